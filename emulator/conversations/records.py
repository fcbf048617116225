"""Threads and turns in the state backend, as values: spaces ``threads`` and ``turns``.

Ids come from the backend's counters and the seed (``uuid_from(seed, n)``), display times from
the epoch and the same counters, so a fresh emulator gives the same ids and timestamps to the
same sequence of requests. The one race that matters, two turns started at once in one thread
(two workers, two clients), is settled by ``claim``: an atomic update of the thread that adds
the turn only while no other turn of the thread is still running.
"""

from __future__ import annotations

from typing import Any

from ..documents.workspaces import iso
from ..state import Backend, Value
from . import timeline
from .turn_request import uuid_from

THREADS, TURNS, ARTIFACTS = "threads", "turns", "artifacts"


Record = dict[str, Any]


class Conversations:
    """Threads and turns, records of the state backend."""

    def __init__(self, state: Backend, seed: int, epoch: int):
        self.state, self.seed, self.epoch = state, seed, epoch

    # -- threads ----------------------------------------------------------------------------------

    async def new_thread_ids(self) -> tuple[str, str]:
        number = await self.state.next_id(THREADS)
        return uuid_from("thread", self.seed, number), iso(self.epoch + number)

    async def create_thread(self, thread_id: str, created_at: str, fields: dict[str, Any]) -> Record:
        record = {"id": thread_id, "name": "", "agent_id": None, "ml_model": None, "is_ephemeral": False,
                  "is_archived": False, "created_at": created_at, "updated_at": created_at, "turns": [],
                  "busy_until": 0.0, **fields}
        await self.state.put(THREADS, thread_id, record)
        return record

    async def thread(self, thread_id: str) -> Record | None:
        found = await self.state.get(THREADS, thread_id)
        return found if isinstance(found, dict) else None

    async def threads(self) -> list[Record]:
        """Every thread, oldest first."""
        return [r for r in (await self.state.items(THREADS)).values() if isinstance(r, dict)]

    async def delete_thread(self, thread: Record) -> None:
        """A thread and its turns."""
        for turn_id in thread["turns"]:
            await self.state.delete(TURNS, turn_id)
        await self.state.delete(THREADS, thread["id"])

    async def patch_thread(self, thread_id: str, changes: dict[str, Any]) -> Record | None:
        updated = await self.state.update(THREADS, thread_id, lambda current: _patched(current, changes))
        return _record(updated)

    # -- turns ------------------------------------------------------------------------------------

    async def new_turn_ids(self) -> tuple[str, str, int]:
        number = await self.state.next_id(TURNS)
        return uuid_from("turn", self.seed, number), iso(self.epoch + number), number

    def message_id(self, turn_id: str, role: str) -> str:
        return uuid_from("message", self.seed, turn_id, role)

    async def turn(self, turn_id: str) -> Record | None:
        found = await self.state.get(TURNS, turn_id)
        return found if isinstance(found, dict) else None

    async def all_turns(self) -> list[Record]:
        """Every turn of every thread."""
        return [t for t in (await self.state.items(TURNS)).values() if isinstance(t, dict)]

    async def turns_of(self, thread: Record) -> list[Record]:
        found = await self.state.get_many(TURNS, thread["turns"]) if thread["turns"] else []
        return [r for r in found if isinstance(r, dict)]

    async def claim(self, thread_id: str, turn: Record, now: float,
                    title: str) -> tuple[Record | None, str | None]:
        """Add ``turn`` (already stored) to its thread, unless a turn of the thread is still running
        at ``now``. -> (the thread, None), or (the thread, the running turn's id)."""
        conflict: list[str] = []

        def change(current: Value | None) -> Value | None:
            conflict.clear()
            if not isinstance(current, dict):
                return None
            if current["turns"] and current.get("busy_until", 0.0) > now:
                conflict.append(current["turns"][-1])
                return current
            return {**current, "turns": [*current["turns"], turn["id"]],
                    "busy_until": timeline.busy_until(turn), "updated_at": turn["created_at"],
                    "name": current["name"] or title}

        thread = await self.state.update(THREADS, thread_id, change)
        return _record(thread), (conflict[0] if conflict else None)

    async def put_turn(self, turn: Record) -> None:
        await self.state.put(TURNS, turn["id"], turn)

    async def drop_turn(self, turn_id: str) -> None:
        await self.state.delete(TURNS, turn_id)

    async def cancel(self, thread_id: str, turn_id: str, now: float) -> Record | None:
        """Write the cancel into a running turn; -> the turn, or None when it was not running."""
        done: list[Record] = []

        def change(current: Any) -> Any:
            done.clear()
            if not isinstance(current, dict):
                return None
            status, _ = timeline.status_at(current, now)
            if status != timeline.RUNNING:
                return current
            cancelled = {**current, "cancel_at": now}
            done.append(cancelled)
            return cancelled

        await self.state.update(TURNS, turn_id, change)
        if not done:
            return None
        until = timeline.busy_until(done[0])
        await self.state.update(THREADS, thread_id, lambda current: {**current, "busy_until": until}
                                if isinstance(current, dict) else None)
        return done[0]

    async def patch_turn(self, turn_id: str, changes: dict[str, Any]) -> Record | None:
        return _record(await self.state.update(TURNS, turn_id, lambda current: _patched(current, changes)))

    # -- artifacts (the files turns' tool calls produce, kept in their turn) ----------------------

    async def index_artifact(self, artifact_id: str, turn_id: str) -> None:
        await self.state.put(ARTIFACTS, artifact_id, turn_id)

    async def artifact(self, artifact_id: str) -> tuple[Record, Record] | None:
        """-> (the artifact, its turn), or None when no turn produced it."""
        turn_id = await self.state.get(ARTIFACTS, artifact_id)
        turn = await self.turn(turn_id) if isinstance(turn_id, str) else None
        if turn is None:
            return None
        found = next((a for a in turn.get("artifacts") or [] if a["id"] == artifact_id), None)
        return (found, turn) if found is not None else None


def _record(value: Value | None) -> Record | None:
    """A thread or turn as the backend holds it (a dict), or None when there is none."""
    return value if isinstance(value, dict) else None


def _patched(current: Value | None, changes: dict[str, Any]) -> Value | None:
    """``current`` with ``changes`` applied, or None when there is no record (nothing to change)."""
    return {**current, **changes} if isinstance(current, dict) else None
