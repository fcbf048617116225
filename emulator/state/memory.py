"""``MemoryBackend``: the state in this process's memory, the default (nothing to start).

Every method is a coroutine for the protocol's sake, and changes the dicts before its first
``await``: on one event loop each call is atomic, which is what ``update`` and ``incr`` promise.
A lock still guards the dicts, because a test thread may read them while the server thread serves.

With ``--data-dir`` every change of a record or a counter (not the logs: the journal is a view
of traffic, not data) is appended to ``state.log`` there and fsynced before the call returns
(``disk_log``), so ``kill -9`` at any moment loses nothing that was acknowledged and never hands
out an id twice. At start-up the log is replayed, then compacted into one record per live key.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from . import Value, size_of
from .disk_log import DiskLog

# What a log entry costs beyond its value's bytes, counted in the log's budget: the (seq, value, size)
# tuple, its two ints, the list slot, the bytes object's header and the allocator's rounding
# (measured with tracemalloc: ~170 bytes). A budget of small entries (a GET's) is otherwise overrun.
ENTRY_OVERHEAD = 192


class MemoryBackend:
    kind = "memory"

    def __init__(self, data_dir: Path | None = None) -> None:
        self._lock = threading.RLock()
        self._spaces: dict[str, dict[str, Value]] = {}
        self._counters: dict[str, int] = {}
        self._logs: dict[str, _Log] = {}
        self._log_seq: dict[str, int] = {}
        self._log_size: dict[str, int] = {}
        self._disk = DiskLog(Path(data_dir), self._replay, self._snapshot) if data_dir is not None else None

    # -- records -----------------------------------------------------------------------------------

    async def get(self, space: str, key: str) -> Value | None:
        return self._spaces.get(space, {}).get(key)

    async def get_watched(self, space: str, key: str) -> Value | None:
        return self._spaces.get(space, {}).get(key)

    async def get_watched_many(self, space: str, keys: Iterable[str]) -> list[Value | None]:
        records = self._spaces.get(space, {})
        return [records.get(key) for key in keys]

    async def get_many(self, space: str, keys: Iterable[str]) -> list[Value | None]:
        records = self._spaces.get(space, {})
        return [records.get(key) for key in keys]

    async def put(self, space: str, key: str, value: Value) -> None:
        with self._lock:
            self._spaces.setdefault(space, {})[key] = value
            written = self._write(("put", space, key, value))
        await self._synced(written)

    async def add(self, space: str, key: str, value: Value) -> bool:
        with self._lock:
            records = self._spaces.setdefault(space, {})
            if key in records:
                return False
            records[key] = value
            written = self._write(("put", space, key, value))
        await self._synced(written)
        return True

    async def delete(self, space: str, key: str) -> bool:
        with self._lock:
            found = self._spaces.get(space, {}).pop(key, None) is not None
            written = self._write(("del", space, key)) if found else None
        await self._synced(written)
        return found

    async def items(self, space: str) -> dict[str, Value]:
        with self._lock:
            return dict(self._spaces.get(space, {}))

    async def update(self, space: str, key: str,
                     change: Callable[[Value | None], Value | None]) -> Value | None:
        with self._lock:
            records = self._spaces.setdefault(space, {})
            new = change(records.get(key))
            if new is None:
                found = records.pop(key, None) is not None
                written = self._write(("del", space, key)) if found else None
            else:
                records[key] = new
                written = self._write(("put", space, key, new))
        await self._synced(written)
        return new

    # -- counters ----------------------------------------------------------------------------------

    async def incr(self, counter: str, by: int = 1) -> int:
        with self._lock:
            value = self._counters.get(counter, 0) + by
            self._counters[counter] = value
            written = self._write(("ctr", counter, value)) if by else None
        await self._synced(written)
        return value

    async def next_id(self, sequence: str, by: int = 1) -> int:
        """This process's memory is lost only with the process (and --data-dir replays it): an id
        sequence is its counter."""
        return await self.incr(sequence, by)

    # -- logs --------------------------------------------------------------------------------------

    async def append(self, log: str, value: Value, keep: int | None = None, budget: int | None = None) -> int:
        size = size_of(value) + ENTRY_OVERHEAD if budget else 0
        with self._lock:
            seq = self._log_seq.get(log, 0) + 1
            self._log_seq[log] = seq
            entries = self._logs.get(log)
            if entries is None:
                entries = self._logs[log] = _Log()
            entries.append((seq, value, size))
            total = self._log_size.get(log, 0) + size
            while len(entries) > 1 and ((keep and len(entries) > keep) or (budget and total > budget)):
                total -= entries.popleft()[2]
            self._log_size[log] = total
            return seq

    async def read(self, log: str, after: int = 0, limit: int | None = None) -> list[tuple[int, Value]]:
        with self._lock:
            entries = self._logs.get(log)
            if not entries:
                return []
            # Sequence numbers are consecutive, so the first wanted entry's place is known.
            start = max(0, after - entries.first_seq() + 1)
            end = None if limit is None else start + limit
            return [(seq, value) for seq, value, _ in entries.slice(start, end)]

    async def read_back(self, log: str, before: int | None = None,
                        limit: int | None = None) -> list[tuple[int, Value]]:
        with self._lock:
            entries = self._logs.get(log)
            if not entries:
                return []
            end = len(entries) if before is None else max(0, min(len(entries), before - entries.first_seq()))
            start = 0 if limit is None else max(0, end - limit)
            return [(seq, value) for seq, value, _ in reversed(entries.slice(start, end))]

    async def length(self, log: str) -> int:
        entries = self._logs.get(log)
        return len(entries) if entries else 0

    async def drop(self, log: str) -> int:
        with self._lock:
            entries = self._logs.get(log)
            count = len(entries) if entries else 0
            if entries:
                entries.clear()
            self._log_size[log] = 0
            return count

    # -- the rest ----------------------------------------------------------------------------------

    async def now(self) -> float:
        return time.time()

    async def clear(self) -> None:
        with self._lock:
            self._spaces.clear()
            self._counters.clear()
            for entries in self._logs.values():
                entries.clear()
            self._log_size.clear()
            written = self._write(("clear",))
        await self._synced(written)

    async def close(self) -> None:
        if self._disk is not None:
            self._disk.close()

    # -- durability (--data-dir) -------------------------------------------------------------------

    def _write(self, change: tuple) -> int | None:
        return self._disk.write(change) if self._disk is not None else None

    async def _synced(self, written: int | None) -> None:
        if written is not None and self._disk is not None:
            await self._disk.synced(written)

    def _snapshot(self) -> Iterator[tuple]:
        """Every live record and counter as the change that makes it (the log's compaction)."""
        for space, records in self._spaces.items():
            for key, value in records.items():
                yield ("put", space, key, value)
        for name, value in self._counters.items():
            yield ("ctr", name, value)

    def _replay(self, change: list) -> None:
        kind = change[0]
        if kind == "put":
            self._spaces.setdefault(change[1], {})[change[2]] = change[3]
        elif kind == "del":
            self._spaces.get(change[1], {}).pop(change[2], None)
        elif kind == "ctr":
            self._counters[change[1]] = change[2]
        elif kind == "clear":
            self._spaces.clear()
            self._counters.clear()


_GONE: tuple[int, Value, int] = (0, b"", 0)  # what a dropped entry's slot holds until the slots go


class _Log:
    """A log's (seq, value, size) entries, oldest first: a list and the index of its first live entry,
    so reading a page anywhere is a slice (a deque would walk to it) and dropping the oldest is O(1)."""

    def __init__(self) -> None:
        self._items: list[tuple[int, Value, int]] = []
        self._head = 0

    def append(self, entry: tuple[int, Value, int]) -> None:
        self._items.append(entry)

    def popleft(self) -> tuple[int, Value, int]:
        entry = self._items[self._head]
        # The slot lets go of the entry now (its bytes count no more in the budget), and the dead
        # slots themselves go now and then: 8 bytes each until then.
        self._items[self._head] = _GONE
        self._head += 1
        if self._head > 1024 and self._head * 2 > len(self._items):  # the dead half goes, now and then
            del self._items[:self._head]
            self._head = 0
        return entry

    def first_seq(self) -> int:
        return self._items[self._head][0]

    def slice(self, start: int, end: int | None) -> list[tuple[int, Value, int]]:
        stop = len(self._items) if end is None else self._head + end
        return self._items[self._head + start:stop]

    def clear(self) -> None:
        self._items, self._head = [], 0

    def __len__(self) -> int:
        return len(self._items) - self._head
