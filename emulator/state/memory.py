"""``MemoryBackend``: the state in this process's memory, the default (nothing to start).

Every method is a coroutine for the protocol's sake, but none awaits: on one event loop each
call is atomic, which is what ``update`` and ``incr`` promise. A lock still guards the dicts,
because a test thread may reset the emulator while the server thread serves.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable

from . import Value


class MemoryBackend:
    kind = "memory"

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._spaces: dict[str, dict[str, Value]] = {}
        self._counters: dict[str, int] = {}
        self._logs: dict[str, deque[tuple[int, Value]]] = {}
        self._log_seq: dict[str, int] = {}

    async def get(self, space: str, key: str) -> Value | None:
        return self._spaces.get(space, {}).get(key)

    async def get_many(self, space: str, keys: Iterable[str]) -> list[Value | None]:
        records = self._spaces.get(space, {})
        return [records.get(key) for key in keys]

    async def put(self, space: str, key: str, value: Value) -> None:
        with self._lock:
            self._spaces.setdefault(space, {})[key] = value

    async def add(self, space: str, key: str, value: Value) -> bool:
        with self._lock:
            records = self._spaces.setdefault(space, {})
            if key in records:
                return False
            records[key] = value
            return True

    async def delete(self, space: str, key: str) -> bool:
        with self._lock:
            return self._spaces.get(space, {}).pop(key, None) is not None

    async def items(self, space: str) -> dict[str, Value]:
        with self._lock:
            return dict(self._spaces.get(space, {}))

    async def update(self, space: str, key: str, change: Callable[[Value | None], Value | None]) -> Value | None:
        with self._lock:
            records = self._spaces.setdefault(space, {})
            new = change(records.get(key))
            if new is None:
                records.pop(key, None)
            else:
                records[key] = new
            return new

    async def incr(self, counter: str, by: int = 1) -> int:
        with self._lock:
            value = self._counters.get(counter, 0) + by
            self._counters[counter] = value
            return value

    async def append(self, log: str, value: Value, keep: int | None = None) -> int:
        with self._lock:
            seq = self._log_seq.get(log, 0) + 1
            self._log_seq[log] = seq
            entries = self._logs.get(log)
            if entries is None or entries.maxlen != keep:
                entries = self._logs[log] = deque(entries or (), maxlen=keep)
            entries.append((seq, value))
            return seq

    async def read(self, log: str, after: int = 0, limit: int | None = None) -> list[tuple[int, Value]]:
        with self._lock:
            entries = self._logs.get(log)
            if not entries:
                return []
            # Sequence numbers are consecutive, so the first wanted entry's place is known.
            start = max(0, after - entries[0][0] + 1)
            selected = itertools.islice(entries, start, None if limit is None else start + limit)
            return list(selected)

    async def length(self, log: str) -> int:
        return len(self._logs.get(log, ()))

    async def drop(self, log: str) -> int:
        with self._lock:
            entries = self._logs.get(log)
            count = len(entries) if entries else 0
            if entries:
                entries.clear()
            return count

    async def now(self) -> float:
        return time.time()

    async def clear(self) -> None:
        with self._lock:
            self._spaces.clear()
            self._counters.clear()
            for entries in self._logs.values():
                entries.clear()

    async def close(self) -> None:
        return None
