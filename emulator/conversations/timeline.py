"""A stored turn and a moment -> the turn as it is then; and the SSE stream of a turn.

A turn record holds its timeline (``plan``): ``[offset_s, event]`` pairs from its start on the
shared clock. Its status at ``now`` is running until start + duration, then how it ends
(completed, failed, or cancelled when a fixture says so); a cancel request written into the
record (``cancel_at``) makes it cancelling for ``choices.CANCEL_GRACE_S``, then cancelled, with
the parts done when the cancel came. The parts "done so far" are the events up to that moment,
folded (``fold``): the same fold a streaming client applies to the events it receives.
"""

from __future__ import annotations

import asyncio
import copy
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from . import choices

Record = dict[str, Any]
RUNNING = "running"
ACTIVE = ("running", "cancelling")
CANCEL_CHECK_S = 0.05  # a stream waiting for its next event looks for a cancel this often


def status_at(record: Record, now: float) -> tuple[str, float]:
    """-> (status, how far into its timeline the turn got, in seconds)."""
    start, duration = record["start"], record["duration"]
    cancel_at = record.get("cancel_at")
    if cancel_at is not None:
        status = "cancelling" if now < cancel_at + choices.CANCEL_GRACE_S else "cancelled"
        return status, cancel_at - start
    if now < start + duration:
        return RUNNING, now - start
    return record["outcome"], math.inf


def busy_until(record: Record) -> float:
    """When a new turn may start in the thread of this one."""
    cancel_at = record.get("cancel_at")
    if cancel_at is not None:
        return cancel_at + choices.CANCEL_GRACE_S
    return record["start"] + record["duration"]


PART_FIELDS = ("text", "reasoning", "tool_call", "document", "workspace")  # the documented Part


def part(kind: str, **values: Any) -> dict[str, Any]:
    """A message part: its type, and every documented field of a Part, null where unused."""
    made: dict[str, Any] = {"type": kind, **dict.fromkeys(PART_FIELDS)}
    made.update(values)
    return made


def fold(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The assistant message's parts that these events build (what a streaming client does)."""
    parts: list[dict[str, Any]] = []
    for event in events:
        kind, index = event["type"], event.get("part_index", 0)
        if kind == "tool_call.started":
            parts.append(part("tool_call", tool_call=copy.deepcopy(event["tool_call"])))
        elif kind == "tool_call.step":
            parts[index]["tool_call"]["steps"].append(copy.deepcopy(event["step"]))
        elif kind == "tool_call.completed":
            parts[index]["tool_call"]["result"] = copy.deepcopy(event["result"])
        elif kind == "reasoning.delta":
            if len(parts) <= index:
                parts.append(part("reasoning", reasoning=""))
            parts[index]["reasoning"] += event["delta"]
        elif kind == "text.delta":
            if len(parts) <= index:
                parts.append(part("text", text=""))
            parts[index]["text"] += event["delta"]
    return parts


def _said(answer: dict[str, Any], until: float) -> int:
    """How many of the answer's tokens are out at ``until`` (offset of token k: start + k * itl)."""
    start, itl, pieces = answer["start"], answer["itl"], answer["pieces"]
    if until < start:
        return 0
    return len(pieces) if until == math.inf or itl <= 0 else min(len(pieces), int((until - start) / itl) + 1)


def text_events(record: Record, until: float = math.inf) -> list[tuple[float, dict[str, Any]]]:
    """The answer's text.delta events, (offset, event), up to ``until``."""
    answer = record.get("answer")
    if not answer:
        return []
    start, itl, pieces = answer["start"], answer["itl"], answer["pieces"]
    count = _said(answer, until)
    turn_id, index = record["id"], answer["part_index"]
    return [(start + itl * k, {"type": "text.delta", "turn_id": turn_id, "part_index": index, "delta": piece})
            for k, piece in enumerate(pieces[:count])]


def events(record: Record, until: float = math.inf) -> list[tuple[float, dict[str, Any]]]:
    """Every event of the turn up to ``until``, in order (tool calls come before the answer)."""
    timed = [(offset, event) for offset, event in record["timeline"] if offset <= until]
    return timed + text_events(record, until)


def _parts(record: Record, until: float) -> list[dict[str, Any]]:
    """fold(events(record, until)), without making an event per token."""
    parts = fold([event for offset, event in record["timeline"] if offset <= until])
    answer = record.get("answer")
    if answer:
        count = _said(answer, until)
        if count:
            parts.append(part("text", text="".join(answer["pieces"][:count])))
    return parts


def render(record: Record, now: float, status: str | None = None,
           reached: float | None = None) -> dict[str, Any]:
    """The documented turn object, as it is at ``now`` (or as told: ``status`` at ``reached``)."""
    if status is None:
        status, reached = status_at(record, now)
    assert reached is not None
    finished = status in ("completed", "failed", "cancelled") and reached == math.inf
    return {
        "id": record["id"], "object": "turn", "thread": record["thread"], "status": status,
        "messages": [
            {"id": record["user_message_id"], "object": "message", "role": "user",
             "parts": [part("text", text=record["query"])], "created_at": record["created_at"],
             "force_tool": record.get("force_tool"),
             "immediate_final_answer": record.get("immediate_final_answer", False)},
            {"id": record["assistant_message_id"], "object": "message", "role": "assistant",
             "parts": _parts(record, reached), "created_at": record["created_at"]},
        ],
        "created_at": record["created_at"],
        "error": record.get("error") if finished and status == "failed" else None,
        "liked": record.get("liked"),
    }


def answer_text(record: Record) -> str:
    """The final text of a completed turn (what the thread's next turns see as history)."""
    answer = record.get("answer")
    return "".join(answer["pieces"]) if answer else ""


async def stream(record: Record, clock_now: float, reread: Callable[[], Awaitable[tuple[Record, float]]]
                 ) -> AsyncIterator[bytes]:
    """The turn's SSE events, each sent when it happens: the turn's start is ``record["start"]`` on
    the shared clock, which read ``clock_now`` just now. A cancel (another request) ends the stream
    with turn.cancelled; the client going away changes nothing for the turn."""
    loop = asyncio.get_running_loop()
    origin = loop.time() - (clock_now - record["start"])  # the loop's time when the turn started
    yield choices.sse_event({"type": "turn.created", "turn": render(record, clock_now, RUNNING, -1.0)})
    cancel_at: float | None = record.get("cancel_at")

    async def until(at: float) -> float | None:
        """Wait until the loop's time ``at`` or a cancel, whichever comes first, in steps of
        CANCEL_CHECK_S: each step re-reads the record, which lives on the state backend, so a
        cancel made on any worker is seen (one read per step per open stream)."""
        found = cancel_at
        while found is None and (wait := at - loop.time()) > 0:
            await asyncio.sleep(min(wait, CANCEL_CHECK_S))
            latest, _ = await reread()
            found = latest.get("cancel_at")
        return found

    for offset, event in events(record):
        cancel_at = await until(origin + offset)
        if cancel_at is not None and offset > cancel_at - record["start"]:
            break
        yield choices.sse_event(event)
    cancel_at = await until(origin + record["duration"])
    if cancel_at is not None:
        settled = origin + cancel_at - record["start"] + choices.CANCEL_GRACE_S
        if settled - loop.time() > 0:
            await asyncio.sleep(settled - loop.time())
    final, now = await reread()
    status, _ = status_at(final, now)
    while status in ACTIVE:  # a cancel that came after the last event: wait for it to settle
        settle = busy_until(final) - now
        await asyncio.sleep(max(settle, 0.001))
        final, now = await reread()
        status, _ = status_at(final, now)
    yield choices.sse_event({"type": choices.TERMINAL_EVENTS[status], "turn": render(final, now)})
