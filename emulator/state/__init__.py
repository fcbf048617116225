"""The state backend: everything that must be the same on every worker, behind one small protocol.

Each feature keeps its records as *values* (JSON-able data, or bytes) under a *space* of its own
(``"files"``, ``"threads"`` ...), never as live Python objects, so that another worker, another
replica or the same emulator after a restart reads the very same thing. The protocol is a few
primitives a key-value server has natively, so that every feature is written once, above it,
and works on both implementations:

    memory   ``MemoryBackend``: dicts in this process (the default: nothing to start)
    redis    ``RedisBackend``: a Redis server shared by every worker and replica (``--redis-url``)

Values are immutable once written: a caller that changes a record writes a new value (``put``,
or ``update`` for a read-modify-write that must not lose a concurrent change). Caches of what the
backend holds (compiled fixtures, decoded vectors) are fine in process memory as long as they are
correct to lose and keyed on something the backend versions (a counter, a record's own id).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Protocol

from ..errors import StateUnavailable

# What a backend stores: JSON-able data, or raw bytes (uploads, packed vectors). Bytes only at the
# top level: a record that holds bytes and metadata is two records.
Value = None | bool | int | float | str | bytes | list | dict


def size_of(value: Value) -> int:
    """The bytes a value weighs in a log's budget: its length, or its JSON's."""
    if isinstance(value, bytes):
        return len(value)
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


__all__ = ["Backend", "Clock", "StateUnavailable", "Value", "size_of"]


class Clock(Protocol):
    """The clock every worker shares (a ``Backend`` is one): what timed records are stamped with."""

    async def now(self) -> float: ...


class Backend(Protocol):
    kind: str  # "memory" | "redis": what GET /_emulator/health reports as "state"

    # -- records: a value per (space, key) --------------------------------------------------------
    async def get(self, space: str, key: str) -> Value | None: ...

    async def get_watched(self, space: str, key: str) -> Value | None:
        """``get``, for a record read on every request and seldom written: a backend may serve it from a
        copy it keeps current (Redis: by a published change), never an older one than a write on
        another worker that has returned."""

    async def get_watched_many(self, space: str, keys: Iterable[str]) -> list[Value | None]:
        """``get_watched`` of several records of one space (on Redis, one look at the published
        changes for them all)."""

    async def get_many(self, space: str, keys: Iterable[str]) -> list[Value | None]: ...

    async def put(self, space: str, key: str, value: Value) -> None: ...

    async def add(self, space: str, key: str, value: Value) -> bool:
        """Write only when the key is absent; -> whether it was written."""

    async def delete(self, space: str, key: str) -> bool: ...

    async def items(self, space: str) -> dict[str, Value]:
        """Every record of a space, in the order the keys were first written."""

    async def update(self, space: str, key: str,
                     change: Callable[[Value | None], Value | None]) -> Value | None:
        """Atomic read-modify-write: ``change(current)`` -> the new value (None deletes the record);
        -> the new value. ``change`` may run more than once (optimistic retry), so it must be pure."""

    # -- counters -----------------------------------------------------------------------------------
    async def incr(self, counter: str, by: int = 1) -> int:
        """Atomic add; -> the new value (``by=0`` reads it). Ids come from here, never reused."""

    async def next_id(self, sequence: str, by: int = 1) -> int:
        """The next id of a sequence (``incr`` of its counter), never one handed out before, even
        after a shared backend lost its data (a Redis without persistence restarted): the sequence
        then goes on past every id it could have given. ``by=0`` reads it. Use counters (how many
        times a fixture answered) are ``incr``'s: they start again with the data."""

    # -- logs: append-only sequences (the journal) --------------------------------------------------
    async def append(self, log: str, value: Value, keep: int | None = None, budget: int | None = None) -> int:
        """Add at the end, keeping at most ``keep`` newest values and at most ``budget`` bytes
        (``size_of``; the oldest go first, the newest always stays); -> the value's sequence number
        (1, 2, ... for the life of the log, never reused: ``drop`` and ``clear`` keep the numbering)."""

    async def read(self, log: str, after: int = 0, limit: int | None = None) -> list[tuple[int, Value]]:
        """``(seq, value)`` pairs with seq > ``after``, oldest first, at most ``limit``."""

    async def read_back(self, log: str, before: int | None = None,
                        limit: int | None = None) -> list[tuple[int, Value]]:
        """``(seq, value)`` pairs with seq < ``before`` (None: from the newest), newest first."""

    async def length(self, log: str) -> int: ...

    async def drop(self, log: str) -> int:
        """Empty a log (its numbering goes on); -> how many values were dropped."""

    # -- the rest ------------------------------------------------------------------------------------
    async def now(self) -> float:
        """Seconds on a clock every worker shares (ingestion and turns are timed from it)."""

    async def clear(self) -> None:
        """Every record, counter and log this emulator holds, for every worker at once
        (``POST /_emulator/reset``). Raises ``StateUnavailable`` (as every method may) when a
        shared backend cannot be reached."""

    async def close(self) -> None: ...
