"""A turn request -> everything the turn will do, computed once, when it is created.

``plan_turn`` decides the agent's tool calls (a scripted fixture's, or ``document_search`` when
the agent has it and files are in scope, or the forced tool), runs them (the search happens
now, so its result is a value like the rest), writes the answer (the fixture's text, the
passage that answers, a JSON instance of ``response_format``, or the generator's prose), and
lays it all out on a timeline: ``[offset_s, event]`` pairs, the events of the SSE stream
(``choices``), the answer's tokens with their pace, the duration and how the turn ends. Same
request, history and agent on a fresh emulator -> the same plan, byte for byte.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import BadRequest, ValidationError
from ..generation import structured
from ..generation import text as generator
from ..generation.text import Limits, request_key
from ..jsonbytes import map_strings
from ..tokenizer import tokenize
from . import choices
from .mcp_calls import best_mcp_tool, mcp_call, scripted_mcp_tool
from .scope import Passage
from .turn_request import Documents, Toolbox, TurnRequest, uuid_from

ANSWER_TOKENS = 512  # the most a generated answer says
PASSAGES = 5  # passages a document search returns


@dataclass
class Plan:
    timeline: list[list[Any]]  # [offset_s, event]
    duration: float
    outcome: str  # completed | failed | cancelled
    error: dict[str, Any] | None = None
    text: str = ""
    sources: list[dict[str, Any]] = field(default_factory=list)
    tool_offsets: list[float] = field(default_factory=list)  # when each tool call completed
    answer: dict[str, Any] | None = None  # {part_index, pieces, start, itl}: the text.delta events
    artifacts: list[dict[str, Any]] = field(default_factory=list)  # the files the tool calls produced


async def plan_turn(directory: Toolbox, docs: Documents, request: TurnRequest) -> Plan:
    response = request.script.response if request.script is not None else {}
    calls = await _tool_calls(docs, request, response, directory)
    pieces = _answer_pieces(request, response, calls)
    text = "".join(pieces)
    failure = response.get("failure")
    outcome = "failed" if failure else "cancelled" if response.get("cancelled") else "completed"

    work_s = float(response.get("duration_ms", request.turn_ms)) / 1000
    ttft_s = float(response.get("ttft_ms", request.ttft_ms)) / 1000
    itl_s = float(response.get("itl_ms", request.itl_ms)) / 1000
    turn_id = request.turn_id
    timeline: list[list[Any]] = []
    sources: list[dict[str, Any]] = []
    artifacts: list[dict[str, Any]] = []
    tool_offsets = []
    tool_span = work_s * choices.TOOL_SHARE / max(len(calls), 1)
    for number, call in enumerate(calls):
        start = tool_span * number
        part_index = number
        timeline.append([start, {"type": "tool_call.started", "turn_id": turn_id, "part_index": part_index,
                                 "tool_call": {**call["tool_call"], "steps": [], "result": None}}])
        steps = call["tool_call"]["steps"]
        for k, step in enumerate(steps):
            timeline.append([start + tool_span * k / max(len(steps), 1),
                             {"type": "tool_call.step", "turn_id": turn_id, "part_index": part_index,
                              "step": step}])
        done = start + tool_span
        timeline.append([done, {"type": "tool_call.completed", "turn_id": turn_id, "part_index": part_index,
                                "result": call["tool_call"]["result"]}])
        tool_offsets.append(done)
        sources.extend({**s, "available_at": done} for s in call["sources"])
        artifacts.extend({**a, "available_at": done} for a in call.get("artifacts", []))
    duration = work_s
    answer = None
    if not failure:
        # The answer's tokens, each a text.delta event at start + k * itl (timeline.text_events): kept
        # as one value rather than an event per token, which a turn record would carry by the hundred.
        index = len(calls)
        if request.model.reasoning:  # a reasoning model thinks (one part) before it answers
            timeline.append([work_s, {"type": "reasoning.delta", "turn_id": turn_id, "part_index": index,
                                      "delta": choices.reasoning(request.query, len(calls))}])
            index += 1
        answer = {"part_index": index, "pieces": list(pieces), "start": work_s + ttft_s, "itl": itl_s}
        duration = work_s + ttft_s + itl_s * max(len(pieces) - 1, 0)
    error = None
    if failure:
        error = {"code": str(failure.get("code", "agent_error")),
                 "message": str(failure.get("message", "The agent failed to answer."))}
        text = ""
    return Plan(timeline=timeline, duration=duration, outcome=outcome, error=error, text=text,
                sources=sources, tool_offsets=tool_offsets, answer=answer, artifacts=artifacts)


# -- tools ------------------------------------------------------------------------------------------

async def _tool_calls(docs: Documents, request: TurnRequest, response: Mapping[str, Any],
                      directory: Toolbox) -> list[dict[str, Any]]:
    """Each tool call as {"tool_call": the part's tool_call object, "sources": source records}."""
    if "tool_calls" in response:
        made = []
        for number, spec in enumerate(response["tool_calls"]):
            made.append(await _scripted_call(docs, request, spec, number, directory))
        return made
    made = []
    if request.forced_mcp and not request.body.get("immediate_final_answer"):
        chosen = best_mcp_tool(request.forced_mcp, request.query)
        made.append(mcp_call(request, chosen, 0, None, None, None))
    tool = _chosen_tool(request, directory)
    if tool is None:
        return made
    if tool == "document_search":
        call = await _document_search(docs, request, request.query, request.scope.file_ids, len(made),
                                      directory)
    else:
        call = await _document_analysis(docs, request, request.scope.file_ids, len(made), directory)
    return [*made, call]


def _chosen_tool(request: TurnRequest, directory: Toolbox) -> str | None:
    """The agent's decision: no tool when told to answer at once or left one step, else the forced
    tool, else document_search when the agent has it and the request names files or a scope."""
    body = request.body
    if body.get("immediate_final_answer"):
        return None
    forced = body.get("force_tool")
    if forced:
        return forced if request.scope.file_ids else None
    if body.get("max_steps", 8) < choices.STEPS_FOR_A_TOOL:
        return None
    if "document_search" in directory.tool_names(request.agent) and request.scope.explicit \
            and request.scope.file_ids:
        return "document_search"
    return None


def _tool_call(request: TurnRequest, name: str, number: int, directory: Toolbox, args: dict[str, Any],
               steps: list[tuple[str, float, str]], result_text: str,
               chunk_sources: list[dict[str, Any]]) -> dict[str, Any]:
    tool = directory.tools.get(name)
    public_tool = tool.public() if tool is not None else {
        "id": uuid_from("tool", name), "name": name, "type": "native", "object": "tool",
        "mcp_server_name": None, "require_document": None, "accepted_file_types": None}
    stamp = request.created_at
    return {"id": uuid_from("tool_call", request.seed, request.turn_id, number), "object": "tool_call",
            "tool": public_tool, "created_at": stamp, "updated_at": stamp, "tool_args": args,
            "steps": [{"status": status, "created_at": stamp,
                       "progress_report": {"progress_percentage": progress, "current_progress_text": words,
                                           "time_remaining_estimate": None, "metadata": {}}}
                      for status, progress, words in steps],
            "result": {"text": result_text, "file_artifacts": [], "web_sources": [],
                       "chunk_sources": chunk_sources}}


def _sources(request: TurnRequest, tool_call_id: str, passages: list[Passage],
             cited: set[int]) -> list[dict[str, Any]]:
    return [{"id": uuid_from("source", request.seed, request.turn_id, tool_call_id, rank),
             "thread_id": request.thread_id, "turn_id": request.turn_id, "tool_call_id": tool_call_id,
             "document_id": p.file_id, "document_chunk": p.chunk_id, "vision_chunk": None,
             "certainty": p.certainty, "distance": p.distance, "page_start": p.page, "page_end": p.page,
             "used_for_generation": p.file_id in cited, "created_at": request.created_at}
            for rank, p in enumerate(passages)]


def _chunk_sources(passages: list[Passage]) -> list[dict[str, Any]]:
    return [choices.chunk_source(p.file_id, p.filename, p.chunk_id, p.chunk_uuid, p.page, p.text, p.score)
            for p in passages]


async def _document_search(docs: Documents, request: TurnRequest, query: str, file_ids: tuple[int, ...],
                           number: int, directory: Toolbox, result: str | None = None) -> dict[str, Any]:
    passages = await docs.search(query, file_ids, PASSAGES)
    text, cited = docs.answer(query, passages)
    steps = choices.search_steps(query, len(file_ids), len(passages), len({p.file_id for p in passages}))
    args = {"query": query, "file_ids": list(file_ids)}
    call = _tool_call(request, "document_search", number, directory, args, steps,
                      result if result is not None else "\n\n".join(p.text for p in passages),
                      _chunk_sources(passages))
    return {"tool_call": call, "sources": _sources(request, call["id"], passages, cited), "answer": text}


async def _document_analysis(docs: Documents, request: TurnRequest, file_ids: tuple[int, ...], number: int,
                             directory: Toolbox, result: str | None = None) -> dict[str, Any]:
    names = await docs.filenames(file_ids)
    passages = await docs.search(request.query, file_ids, PASSAGES * max(len(names), 1))
    text = docs.summary(passages, names)
    call = _tool_call(request, "document_analysis", number, directory,
                      {"query": request.query, "file_ids": list(file_ids)},
                      choices.analysis_steps(len(names)), result if result is not None else text,
                      _chunk_sources(passages))
    cited = {p.file_id for p in passages}
    return {"tool_call": call, "sources": _sources(request, call["id"], passages, cited), "answer": text}


async def _scripted_call(docs: Documents, request: TurnRequest, spec: dict[str, Any], number: int,
                         directory: Toolbox) -> dict[str, Any]:
    """A fixture's tool call: its arguments and result as written; without a result, a document tool
    runs for real over the arguments (or the request's scope)."""
    script = request.script
    assert script is not None  # only a fixture scripts tool calls
    name = spec["name"]
    args = spec.get("arguments", {})
    args = map_strings(args, script.render) if isinstance(args, dict) else {"input": script.render(args)}
    result = script.render(spec["result"]) if "result" in spec else None
    mcp_tool = scripted_mcp_tool(request, directory, name, spec.get("mcp_server"))
    if mcp_tool is not None:
        scripted_artifacts = ([map_strings(a, script.render) for a in spec["artifacts"]]
                              if "artifacts" in spec else None)
        return mcp_call(request, mcp_tool, number, args if spec.get("arguments") is not None else None,
                         result, scripted_artifacts)
    file_ids = tuple(args.get("file_ids") or request.scope.file_ids)
    if result is None and name == "document_search":
        return await _document_search(docs, request, str(args.get("query", request.query)), file_ids, number,
                                      directory)
    if result is None and name == "document_analysis":
        return await _document_analysis(docs, request, file_ids, number, directory)
    scripted = spec.get("sources") or []
    names = await docs.filenames([s["file_id"] for s in scripted])
    passages = [Passage(
        file_id=s["file_id"], filename=names.get(s["file_id"], f"file {s['file_id']}"), page=s.get("page", 1),
        chunk_id=int(s.get("chunk_id", number * 1000 + k)), chunk_uuid=uuid_from("chunk", s["file_id"], k),
        text=str(s.get("text", "")), score=float(s.get("certainty", 0.9)) * 2 - 1,
        distance=float(s.get("distance", 1 - (float(s.get("certainty", 0.9)) * 2 - 1))),
        certainty=float(s.get("certainty", 0.9))) for k, s in enumerate(scripted)]
    call = _tool_call(request, name, number, directory, args,
                      choices.search_steps(str(args.get("query", request.query)), len(file_ids),
                                           len(passages), len({p.file_id for p in passages})),
                      result or "", _chunk_sources(passages))
    artifacts = [choices.artifact_record(uuid_from("artifact", request.seed, request.turn_id, number, k),
                                         {"name": str(item.get("name", f"artifact-{k + 1}")),
                                          "content": str(item.get("content", "")),
                                          "mime_type": str(item.get("mime_type", "text/plain"))},
                                         request.thread_id, request.turn_id, call["id"], request.created_at)
                 for k, item in enumerate(map_strings(spec.get("artifacts") or [], script.render))]
    call["result"]["file_artifacts"] = [choices.artifact_brief(a) for a in artifacts]
    cited = {p.file_id for p in passages}
    return {"tool_call": call, "sources": _sources(request, call["id"], passages, cited),
            "answer": result or "", "artifacts": artifacts}


# -- the answer -------------------------------------------------------------------------------------

def _answer_pieces(request: TurnRequest, response: Mapping[str, Any],
                   calls: list[dict[str, Any]]) -> tuple[str, ...]:
    """The answer, token by token (a text.delta event each)."""
    if "chunks" in response:
        return tuple(str(piece) for piece in response["chunks"])
    if "content" in response and request.script is not None:
        return tuple(tokenize(request.script.render(response["content"])))
    key = request_key(request.seed, "turn", request.agent.get("id"), request.agent.get("instructions"),
                      request.model.technical_name, request.history, request.query,
                      request.body.get("system_prompt_suffix"), request.body.get("response_format"),
                      [c["answer"] for c in calls])
    response_format = request.body.get("response_format")
    if response_format is not None:
        try:
            made = structured.chat_choice(0, key, {"response_format": response_format},
                                          Limits(max_tokens=1 << 16))
        except BadRequest as exc:
            raise ValidationError({"response_format": [exc.message]}) from None
        if made is not None:
            return made.pieces
    if calls:
        return tuple(tokenize("\n\n".join(c["answer"] for c in calls if c["answer"])))
    return generator.choice(0, key, Limits(max_tokens=ANSWER_TOKENS)).pieces
