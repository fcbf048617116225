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


def chunk_source(document_id: int, document_name: str, chunk_id: int, chunk_uuid: str, page: int, text: str,
                 score: float) -> dict[str, Any]:
    """One entry of a tool result's ``chunk_sources`` (its shape is not documented)."""
    return {"document_id": document_id, "document_name": document_name, "chunk_id": chunk_id,
            "chunk_uuid": chunk_uuid, "page": page, "text": text, "score": score}
