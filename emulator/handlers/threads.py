"""/api/v3/threads, /threads/turns, /threads/{id}, /threads/{id}/turns (+ /{turn_id}), /api/v3/sources.

A turn is planned whole when it is created (``conversations.plan``) and stored with its start
on the shared clock; the POST then waits for it (at most --turn-wait-ms: 200 when it finished,
202 with the turn as it is otherwise), answers 202 at once (``background``), or streams its
events as they happen (``stream``). Reads render the stored turn as of now (``timeline``).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.datastructures import URL
from starlette.responses import Response

from ..call import Call, json_response
from ..catalog import Model
from ..conversations import choices, documents, timeline
from ..conversations.plan import TurnRequest, plan_turn
from ..conversations.records import Conversations, Record
from ..errors import ApiError, ModelNotFound, NotFound, ValidationError
from ..sse import event_stream


class TurnRunning(ApiError):
    status = choices.TURN_RUNNING_STATUS


def _conversations(call: Call) -> Conversations:
    return call.emulator.conversations


# -- what a request names -------------------------------------------------------------------------

async def _agent(call: Call, body: dict[str, Any], default_id: int | None = None) -> dict[str, Any]:
    """agent_id wins over the deprecated chat_setting_id; neither: the thread's, else the default agent."""
    directory = call.emulator.agents
    for field in ("agent_id", "chat_setting_id"):
        if body.get(field) is not None:
            agent = await directory.get(body[field])
            if agent is None:
                raise ValidationError(choices.does_not_exist(field, body[field]))
            return agent
    agent = await directory.get(default_id if default_id is not None else directory.default_id)
    return agent or directory.seeds[directory.default_id]


def _model(call: Call, name: Any) -> Model:
    catalog = call.emulator.catalog
    if name is None:
        chat = [m for m in catalog.models if m.kind == "chat" and m.extra.get("enabled") is not False]
        if not chat:
            raise ValidationError({"ml_model": ["The model catalog has no chat model."]})
        return chat[0]
    try:
        model = catalog.get(name)
    except ModelNotFound:
        raise ValidationError(choices.unknown_model(name)) from None
    if model.kind != "chat":
        raise ValidationError(choices.not_a_chat_model(name))
    return model


def _check_tool(call: Call, body: dict[str, Any]) -> None:
    forced = body.get("force_tool")
    if forced is not None and forced not in call.emulator.agents.tools:
        raise ValidationError(choices.unknown_tool(forced, sorted(call.emulator.agents.tools)))
    if body.get("force_mcp_server") is not None:  # the emulator's agents have no MCP server
        raise ValidationError(choices.does_not_exist("force_mcp_server", body["force_mcp_server"]))


async def _thread_or_404(call: Call) -> Record:
    thread = await _conversations(call).thread(str(call.path_params["id"]))
    if thread is None:
        raise NotFound()
    return thread


async def render_thread(call: Call, thread: Record, now: float) -> dict[str, Any]:
    conversations = _conversations(call)
    last = await conversations.turn(thread["turns"][-1]) if thread["turns"] else None
    status = timeline.status_at(last, now)[0] if last is not None else "completed"
    agent = await call.emulator.agents.get(thread["agent_id"])
    model = thread.get("ml_model")
    try:
        model_name = call.emulator.catalog.get(model).name if model else None
    except ModelNotFound:
        model_name = None
    return {"id": thread["id"], "object": "thread", "name": thread["name"], "status": status, "ml_model": model,
            "ml_model_name": model_name, "agent_id": thread["agent_id"],
            "agent_name": agent["name"] if agent else None, "chat_setting": thread["agent_id"],
            "creation_source": "api", "is_read": True, "created_at": thread["created_at"],
            "updated_at": thread["updated_at"], "is_ephemeral": thread["is_ephemeral"],
            "is_archived": thread["is_archived"], "legacy": False}


def _cursor_page(url: URL, items: list[Record], query: dict[str, Any], limit: int) -> tuple[list[Record], Any, Any]:
    """Cursor pagination over ids: -> (the page, next URL, previous URL)."""
    ids = [item["id"] for item in items]
    after, before = query.get("starting_after"), query.get("ending_before")
    for field, cursor in (("starting_after", after), ("ending_before", before)):
        if cursor is not None and cursor not in ids:
            raise ValidationError({field: [f'"{cursor}" is not an id of this list.']})
    if after is not None:
        rest = items[ids.index(after) + 1:]
        page, more, earlier = rest[:limit], len(rest) > limit, True
    elif before is not None:
        head = items[:ids.index(before)]
        page, more, earlier = head[-limit:], True, len(head) > limit
    else:
        page, more, earlier = items[:limit], len(items) > limit, False
    bare = url.remove_query_params(["starting_after", "ending_before"])
    following = str(bare.include_query_params(starting_after=page[-1]["id"])) if more and page else None
    previous = str(bare.include_query_params(ending_before=page[0]["id"])) if earlier and page else None
    return page, following, previous


# -- threads ----------------------------------------------------------------------------------------

async def create_thread(call: Call) -> Response:
    body = call.body if isinstance(call.body, dict) else {}
    agent = await _agent(call, body)
    conversations = _conversations(call)
    thread_id, created_at = await conversations.new_thread_ids()
    thread = await conversations.create_thread(thread_id, created_at, {
        "name": body.get("name") or "", "agent_id": agent["id"], "is_ephemeral": bool(body.get("is_ephemeral"))})
    return json_response(await render_thread(call, thread, await call.emulator.state.now()), status=201)


async def list_threads(call: Call) -> Response:
    query = call.query
    threads = [t for t in reversed(await _conversations(call).threads()) if not t["is_ephemeral"]]
    if query.get("creation_source") is not None and query["creation_source"] != "api":
        threads = []
    if query.get("search"):
        threads = [t for t in threads if str(query["search"]).lower() in t["name"].lower()]
    page, following, previous = _cursor_page(call.request.url, threads, query,
                                             query.get("limit", choices.THREADS_PAGE))
    now = await call.emulator.state.now()
    return json_response({"results": [await render_thread(call, t, now) for t in page], "count": len(threads),
                          "next": following, "previous": previous})


async def retrieve_thread(call: Call) -> Response:
    thread = await _thread_or_404(call)
    return json_response(await render_thread(call, thread, await call.emulator.state.now()))


async def update_thread(call: Call) -> Response:
    emulator, body = call.emulator, call.body if isinstance(call.body, dict) else {}
    conversations = _conversations(call)
    thread = await _thread_or_404(call)
    if call.query.get("anonymize") and not thread["is_ephemeral"]:
        raise ValidationError({"anonymize": ["Only an ephemeral thread can be anonymized."]})
    changes: dict[str, Any] = {}
    if "ml_model" in body:
        changes["ml_model"] = _model(call, body["ml_model"]).technical_name
    for key in ("name", "is_archived"):
        if key in body:
            changes[key] = body[key]
    if call.query.get("cancel"):
        now = await emulator.state.now()
        cancelled = await conversations.cancel(thread["id"], thread["turns"][-1], now) if thread["turns"] else None
        if cancelled is None:
            raise ValidationError(choices.NOTHING_TO_CANCEL)
    if changes:
        thread = await conversations.patch_thread(thread["id"], changes) or thread
    else:
        thread = await conversations.thread(thread["id"]) or thread
    return json_response(await render_thread(call, thread, await emulator.state.now()))


# -- turns ------------------------------------------------------------------------------------------

async def create_thread_turn(call: Call) -> Response:
    """POST /api/v3/threads/turns: a new thread and its first turn (never streamed)."""
    return await _start_turn(call, None, stream=False)


async def create_turn(call: Call) -> Response:
    thread = await _thread_or_404(call)
    return await _start_turn(call, thread, stream=bool(call.body.get("stream")))


async def _start_turn(call: Call, thread: Record | None, stream: bool) -> Response:
    """Check the request, plan the turn, store it with its thread, then answer (stream, 202 or wait)."""
    emulator, body = call.emulator, call.body
    agent = await _agent(call, body, thread["agent_id"] if thread else None)
    model = _model(call, body.get("ml_model") or (thread or {}).get("ml_model"))
    _check_tool(call, body)
    scope = await documents.scope(emulator, body)
    history = await _history(call, thread) if thread is not None else []
    # What a fixture's turn conditions read (matching: turn_index, agent_id, force_tool).
    call.turn_context = {"index": len(thread["turns"]) if thread else 0, "agent_id": agent["id"],
                         "force_tool": body.get("force_tool")}
    script = await emulator.scripts.match(call)
    if script is not None:
        if script.is_error:
            return script.error_response(answering=True)
        script.leave_effects(call)  # its delay and headers, which delivery applies
    record = await _store(call, thread, await _plan(call, thread, agent, model, scope, history, script))
    if stream:
        return event_stream(timeline.stream(record, record["start"], _rereader(call, record)))
    return await _answer(call, record)


async def _history(call: Call, thread: Record) -> list[tuple[str, str]]:
    """The (query, answer) of the thread's completed turns; a turn still running is a 409."""
    now = await call.emulator.state.now()
    if thread["turns"] and thread.get("busy_until", 0.0) > now:
        raise TurnRunning(choices.turn_running(thread["id"], thread["turns"][-1])["detail"])
    return [(earlier["query"], timeline.answer_text(earlier))
            for earlier in await _conversations(call).turns_of(thread)
            if timeline.status_at(earlier, now)[0] == "completed"]


async def _plan(call: Call, thread: Record | None, agent: dict[str, Any], model: Model, scope: documents.Scope,
                history: list[tuple[str, str]], script: Any) -> Record:
    """The turn record (not stored yet): its ids, its plan and its start on the shared clock."""
    emulator, body, settings = call.emulator, call.body, call.emulator.settings
    conversations = _conversations(call)
    if thread is None:
        thread_id, thread_created = await conversations.new_thread_ids()
    else:
        thread_id, thread_created = thread["id"], thread["created_at"]
    turn_id, created_at, _ = await conversations.new_turn_ids()
    assert call.turn_context is not None
    request = TurnRequest(
        query=body["query"], agent=agent, model=model, thread_id=thread_id, turn_id=turn_id,
        index=call.turn_context["index"], created_at=created_at, history=history, body=body, scope=scope,
        script=script, seed=settings.seed, turn_ms=settings.turn_ms, ttft_ms=settings.ttft_ms,
        itl_ms=settings.itl_ms)
    plan = await plan_turn(emulator, request)
    tool = emulator.agents.tools.get(body.get("force_tool") or "")
    return {
        "id": turn_id, "thread": thread_id, "thread_created_at": thread_created, "index": request.index,
        "created_at": created_at, "start": await emulator.state.now(), "duration": plan.duration,
        "outcome": plan.outcome, "error": plan.error, "query": body["query"],
        "user_message_id": conversations.message_id(turn_id, "user"),
        "assistant_message_id": conversations.message_id(turn_id, "assistant"),
        "timeline": plan.timeline, "answer": plan.answer, "sources": plan.sources, "cancel_at": None,
        "liked": None, "force_tool": tool.public() if tool is not None else None,
        "immediate_final_answer": bool(body.get("immediate_final_answer")),
        "agent_id": agent["id"], "ml_model": model.technical_name,
    }


async def _store(call: Call, thread: Record | None, record: Record) -> Record:
    """Write the turn, then its thread: a new one with the turn in it, or the turn claimed into an
    existing one (a 409 when another turn got there first)."""
    conversations, body = _conversations(call), call.body
    await conversations.put_turn(record)
    title = body.get("name") or choices.thread_title(body["query"])
    if thread is None:  # a thread nobody else knows yet: created with its turn, nothing to claim
        await conversations.create_thread(record["thread"], record["thread_created_at"], {
            "name": title, "agent_id": record["agent_id"], "ml_model": body.get("ml_model"),
            "is_ephemeral": bool(body.get("is_ephemeral")), "turns": [record["id"]],
            "busy_until": timeline.busy_until(record), "updated_at": record["created_at"]})
        return record
    _, running = await conversations.claim(record["thread"], record, record["start"], title)
    if running is not None:
        await conversations.drop_turn(record["id"])
        raise TurnRunning(choices.turn_running(record["thread"], running)["detail"])
    return record


def _rereader(call: Call, record: Record) -> Callable[[], Awaitable[tuple[Record, float]]]:
    conversations, state = _conversations(call), call.emulator.state

    async def reread() -> tuple[Record, float]:
        latest = await conversations.turn(record["id"])
        return latest or record, await state.now()

    return reread


async def _answer(call: Call, record: Record) -> Response:
    """202 at once (background); else sleep until the turn's known end, at most --turn-wait-ms:
    200 when it has ended, 202 with the turn as it is otherwise (it goes on without the client)."""
    state = call.emulator.state
    if call.body.get("background"):
        return json_response(timeline.render(record, await state.now()), status=202)
    reread = _rereader(call, record)
    give_up = record["start"] + call.emulator.settings.turn_wait_ms / 1000
    latest, now = record, record["start"]  # a turn that takes no time is answered without reading it back
    while True:
        status, _ = timeline.status_at(latest, now)
        if status not in timeline.ACTIVE:
            return json_response(timeline.render(latest, now), status=200)
        if now >= give_up:
            return json_response(timeline.render(latest, now), status=202)
        await asyncio.sleep(min(timeline.busy_until(latest), give_up) - now + 0.0005)
        latest, now = await reread()


async def list_turns(call: Call) -> Response:
    thread = await _thread_or_404(call)
    turns = await _conversations(call).turns_of(thread)
    page, following, previous = _cursor_page(call.request.url, turns, call.query,
                                             call.query.get("limit", choices.TURNS_PAGE))
    now = await call.emulator.state.now()
    return json_response({"count": len(turns), "next": following, "previous": previous,
                          "results": [timeline.render(t, now) for t in page]})


async def update_turn(call: Call) -> Response:
    thread = await _thread_or_404(call)
    turn_id = str(call.path_params["turn_id"])
    if turn_id not in thread["turns"]:
        raise NotFound()
    body = call.body if isinstance(call.body, dict) else {}
    action = call.query["action"]
    if action == "like_dislike":
        changes: dict[str, Any] = {"liked": body.get("liked", True)}  # no body: a like
    elif action == "copied":
        changes = {"copied": True}
    else:
        changes = {"flagged": True}
    await _conversations(call).patch_turn(turn_id, changes)
    return json_response(choices.ACTION_DONE)


# -- sources ----------------------------------------------------------------------------------------

async def list_sources(call: Call) -> Response:
    query, conversations = call.query, _conversations(call)
    if query.get("turn_id"):
        turn = await conversations.turn(str(query["turn_id"]))
        if turn is None or (query.get("thread_id") and turn["thread"] != query["thread_id"]):
            raise NotFound()
        turns = [turn]
    elif query.get("thread_id"):
        thread = await conversations.thread(str(query["thread_id"]))
        if thread is None:
            raise NotFound()
        turns = await conversations.turns_of(thread)
    else:
        turns = [t for t in (await call.emulator.state.items("turns")).values() if isinstance(t, dict)]
    now = await call.emulator.state.now()
    found = []
    for turn in turns:
        _, reached = timeline.status_at(turn, now)
        for source in turn.get("sources", []):
            if source["available_at"] <= reached or reached == math.inf:
                found.append({k: v for k, v in source.items() if k != "available_at"})
    if query.get("tool_call_id"):
        found = [s for s in found if s["tool_call_id"] == query["tool_call_id"]]
    if query.get("id"):
        found = [s for s in found if s["id"] == query["id"]]
    if query.get("source_type") == "web":
        found = []
    size = query.get("per_page", choices.SOURCES_PAGE)
    page = query.get("page", 1)
    return json_response({"document": found[(page - 1) * size:page * size], "web": []})
