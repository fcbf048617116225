"""Every part of the conversation API that Paradigm's public docs leave open, chosen here, once.

The README's "Agents, threads and turns" section lists these as the emulator's choices. When
LightOn documents one of them (the SSE format of a streamed turn above all), this is the one
module to correct. What *is* documented (the turn, message, thread and agent objects, the
request fields, 200/202) is built elsewhere from the reference notes.

What a DRF application in front of vLLM would do guided each choice: error bodies are DRF's
(``{"detail": "..."}`` or ``{"field": ["..."]}``), with DRF's own wording where it has one.
"""

from __future__ import annotations

from typing import Any

from ..errors import dumps

# -- the stream of a turn (POST /api/v3/threads/{id}/turns with "stream": true) -------------------
# Each event is ``event: <type>`` + ``data: <compact JSON>`` + a blank line; the JSON repeats the
# type, so a client that only reads data lines can dispatch on it. The first event carries the
# turn as it starts, the last the turn as it ended; in between, what happened, in order:
#
#   turn.created          {"type", "turn"}                       status running, no assistant parts yet
#   tool_call.started     {"type", "turn_id", "part_index", "tool_call"}   steps [], result null
#   tool_call.step        {"type", "turn_id", "part_index", "step"}        appended to tool_call.steps
#   tool_call.completed   {"type", "turn_id", "part_index", "result"}      tool_call.result
#   reasoning.delta       {"type", "turn_id", "part_index", "delta"}       a reasoning model's reasoning part
#   text.delta            {"type", "turn_id", "part_index", "delta"}       appended to that text part
#   turn.completed | turn.failed | turn.cancelled   {"type", "turn"}      terminal: the whole turn
#
# Folding the middle events into the first turn's assistant message gives the last turn's parts
# (``timeline.fold`` is that fold; the tests check it byte for byte).
TERMINAL_EVENTS = {"completed": "turn.completed", "failed": "turn.failed", "cancelled": "turn.cancelled"}


def sse_event(data: dict[str, Any]) -> bytes:
    return b"event: " + data["type"].encode() + b"\ndata: " + dumps(data) + b"\n\n"


# -- message parts ----------------------------------------------------------------------------------
# Every part carries each documented field of a Part (text, reasoning, tool_call, document,
# workspace), null where unused (``timeline.part``). A reasoning model (``reasoning: true`` in the
# model catalog) says this, in one reasoning part, before its answer's text.


def reasoning(query: str, tool_calls: int) -> str:
    asked = " ".join(query.split())
    asked = asked if len(asked) <= 80 else asked[:79].rstrip() + "…"
    used = f"the {tool_calls} tool result(s)" if tool_calls else "what I know"
    return f'The user asks: "{asked}". I answer from {used}, briefly and to the point.'


# The thread field the docs describe as "Global tool-specific parameters applied to all turns in this
# thread (e.g., document_search.top_k)": its name was not captured; this is the emulator's.
THREAD_TOOL_PARAMS = "tool_params"


# -- time -----------------------------------------------------------------------------------------
# A cancelled turn reports "cancelling" for this long, then "cancelled" (the real service stops its
# agent loop asynchronously; 0 would make "cancelling" unobservable).
CANCEL_GRACE_S = 0.05
# Of a turn's working time (--turn-ms, or a fixture's duration_ms), the share its tool calls take;
# the answer's tokens come after the whole working time (then --ttft-ms / --itl-ms pace them).
TOOL_SHARE = 0.5

# -- agents' loop ---------------------------------------------------------------------------------
# max_steps counts the agent's model calls: a tool call needs one to call it and one to answer, so
# with max_steps 1 the agent answers at once unless the tool is forced.
STEPS_FOR_A_TOOL = 2

# -- pagination -----------------------------------------------------------------------------------
THREADS_PAGE = 10  # GET /api/v3/threads: limit's documented default
TURNS_PAGE = 10  # GET /api/v3/threads/{id}/turns: not documented; the same as threads
AGENTS_PAGE = 20  # GET /api/v3/agents, /groups: DRF page-number pagination, 20 a page
SOURCES_PAGE = 20  # GET /api/v3/sources: per_page's documented default

# -- error bodies (DRF's wording where DRF has one) ------------------------------------------------
NOT_FOUND = {"detail": "Not found."}


def does_not_exist(field: str, value: Any) -> dict[str, list[str]]:
    """DRF's PrimaryKeyRelatedField message."""
    return {field: [f'Invalid pk "{value}" - object does not exist.']}


def unknown_model(value: Any) -> dict[str, list[str]]:
    """DRF's SlugRelatedField message (models are looked up by technical name)."""
    return {"ml_model": [f"Object with technical_name={value} does not exist."]}


def not_a_chat_model(value: Any) -> dict[str, list[str]]:
    return {"ml_model": [f'"{value}" is an embedding model; a turn needs a chat model.']}


def unknown_tool(value: Any, known: list[str]) -> dict[str, list[str]]:
    return {"force_tool": [f'"{value}" is not a valid choice. Known tools: {", ".join(known)}.']}


def turn_running(thread_id: str, turn_id: str) -> dict[str, str]:
    # 409 Conflict: the request is fine, the thread is not ready for it.
    return {"detail": f"A turn is still running in this thread (turn {turn_id}). Wait until it ends, or "
                      f"cancel it with PATCH /api/v3/threads/{thread_id}?cancel=true."}


TURN_RUNNING_STATUS = 409


def thread_title(query: str) -> str:
    """A thread created without a name is named after its first query (the real service asks a model)."""
    words = " ".join(query.split())
    return words if len(words) <= 60 else words[:59].rstrip() + "…"

NOTHING_TO_CANCEL = {"detail": "There is no running turn to cancel in this thread."}
ACTION_DONE = {"detail": "Action performed successfully"}

# -- the parts of a tool call the docs show without values ----------------------------------------
STEP_RUNNING, STEP_DONE = "running", "completed"


def search_steps(query: str, files: int, found: int, documents: int) -> list[tuple[str, float, str]]:
    """(status, progress %, text) of a document search's steps."""
    return [(STEP_RUNNING, 0.0, f'Searching {files} document(s) for "{query[:80]}"'),
            (STEP_RUNNING, 50.0, f"Found {found} passage(s) in {documents} document(s)"),
            (STEP_DONE, 100.0, "Search completed")]


def analysis_steps(files: int) -> list[tuple[str, float, str]]:
    return [(STEP_RUNNING, 0.0, f"Reading {files} document(s)"),
            (STEP_RUNNING, 50.0, "Summarizing the documents"),
            (STEP_DONE, 100.0, "Analysis completed")]


def mcp_steps(server: str, tool: str) -> list[tuple[str, float, str]]:
    """(status, progress %, text) of an MCP tool call's steps (the emulator never reaches the server)."""
    return [(STEP_RUNNING, 0.0, f"Calling {tool} on the MCP server {server}"),
            (STEP_DONE, 100.0, "Tool call completed")]


def chunk_source(document_id: int, document_name: str, chunk_id: int, chunk_uuid: str, page: int, text: str,
                 score: float) -> dict[str, Any]:
    """One entry of a tool result's ``chunk_sources`` (its shape is not documented)."""
    return {"document_id": document_id, "document_name": document_name, "chunk_id": chunk_id,
            "chunk_uuid": chunk_uuid, "page": page, "text": text, "score": score}


# -- MCP servers (POST/GET /api/v3/mcp, /mcp/{id}, /mcp/{id}/tools) ---------------------------------
# GET /api/v3/mcp is named in a guide, its page was not captured: a DRF page of 20, as the agents.
MCP_PAGE = 20
# force_mcp_server names a server by id (or by name): any server the user sees, whether or not the
# turn's agent lists it (the docs do not say the agent must). The agent calls the server's tool
# whose name and description share the most words with the query (its first tool on a tie).

# -- artifacts (GET /api/v3/artifacts/{id}) ----------------------------------------------------------
# The files a turn's tool calls produce. The docs give the path and "Retrieve an artifact by ID."
# only; the emulator's artifact, with the names the rest of the v3 API uses:
#   {"id", "object": "artifact", "name", "mime_type", "size" (bytes of content, UTF-8), "content"
#    (the file's text), "thread_id", "turn_id", "tool_call_id", "created_at"}
# A tool call's result.file_artifacts lists each as {"id", "object", "name", "mime_type", "size"}.
# An artifact exists once its tool call has completed (404 before, and for a cancelled turn's calls
# that never completed).


def artifact_record(artifact_id: str, artifact: dict[str, Any], thread_id: str, turn_id: str,
                    tool_call_id: str, created_at: str) -> dict[str, Any]:
    content = str(artifact.get("content", ""))
    return {"id": artifact_id, "object": "artifact", "name": artifact["name"],
            "mime_type": artifact.get("mime_type", "text/plain"), "size": len(content.encode()),
            "content": content, "thread_id": thread_id, "turn_id": turn_id, "tool_call_id": tool_call_id,
            "created_at": created_at}


def artifact_brief(record: dict[str, Any]) -> dict[str, Any]:
    return {k: record[k] for k in ("id", "object", "name", "mime_type", "size")}

# -- agents' icons (PUT /api/v3/agents/{id}/icon) -----------------------------------------------------
# Documented: a multipart ``icon`` of at most 5 MB, answered "Icon uploaded successfully". The body
# of that answer was not captured: DRF's usual message object. A larger icon is DRF's field error (400).
ICON_MB = 5
ICON_UPLOADED = {"message": "Icon uploaded successfully"}
