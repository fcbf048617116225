"""The memory backend's changes on disk (``--data-dir``): ``state.log``, one JSON line a change,
appended and fsynced before the change is acknowledged, replayed and compacted at start-up."""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import json
import logging
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO

log = logging.getLogger("emulator.state")
LOG_NAME = "state.log"


class DiskLog:
    """The append-only log of a MemoryBackend: written under the backend's lock (so its order is
    the order of the changes), fsynced by one thread (one fsync covers every line written before
    it), and each change's caller waits for the fsync that covers its line.

    ``replay`` applies one change read back at start-up; ``snapshot`` gives every live record and
    counter as a change, for the compaction that follows."""

    def __init__(self, folder: Path, replay: Callable[[list], None], snapshot: Callable[[], Iterable[tuple]]):
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / LOG_NAME
        if self.path.exists():
            self._load(replay)
        self._compact(snapshot())
        self._file: IO[bytes] = open(self.path, "ab", buffering=0)
        self._written = 0  # lines written
        self._synced_upto = 0  # lines known to be on disk
        self._sync_lock = threading.Lock()
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="state-fsync")

    def _load(self, replay: Callable[[list], None]) -> None:
        with open(self.path, "rb") as f:
            lines = f.read().split(b"\n")
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                replay(_decode(line))
            except (ValueError, KeyError, IndexError, TypeError):
                # The last line may be torn by a kill in the middle of a write: it was never
                # acknowledged. A torn line elsewhere is damage worth saying.
                if number < len(lines) - 1 or lines[-1].strip():
                    log.error("%s:%d: unreadable change skipped", self.path, number)

    def _compact(self, changes: Iterable[tuple]) -> None:
        fresh = self.path.with_suffix(".log.new")
        with open(fresh, "wb") as f:
            for change in changes:
                f.write(_encode(change))
            f.flush()
            os.fsync(f.fileno())
        os.replace(fresh, self.path)
        _fsync_dir(self.path.parent)

    def write(self, change: tuple) -> int:
        view = memoryview(_encode(change))
        while view:  # an unbuffered write may take part of a large line
            view = view[self._file.write(view):]
        self._written += 1
        return self._written

    async def synced(self, upto: int) -> None:
        if self._synced_upto >= upto:
            return
        await asyncio.get_running_loop().run_in_executor(self._pool, self._fsync, upto)

    def _fsync(self, upto: int) -> None:
        with self._sync_lock:
            if self._synced_upto >= upto:
                return  # a later fsync already covered this line
            target = self._written
            os.fsync(self._file.fileno())
            self._synced_upto = max(self._synced_upto, target)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._file.close()


def _encode(change: tuple) -> bytes:
    if change[0] == "put" and isinstance(change[3], bytes):
        change = ("putb", change[1], change[2], base64.b64encode(change[3]).decode())
    return json.dumps(change, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def _decode(line: bytes) -> list:
    change = json.loads(line)
    if change[0] == "putb":
        change = ["put", change[1], change[2], base64.b64decode(change[3])]
    return change


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
