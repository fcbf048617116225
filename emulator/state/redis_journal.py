"""The Redis backend's journal writer: entries appended at the same moment go out in one pipeline."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis

from .redis_codec import guard


class JournalBatcher:
    """Log entries of the requests in flight, written in the order they were appended, one pipeline at
    a time, each request still waiting for its own entry to be written."""

    def __init__(self, redis: aioredis.Redis, append: Any, marker: str, epoch: int,
                 log_keys: Callable[[str], list[str]], highest: Callable[[], int],
                 seen: Callable[[int, bytes | str], None]):
        """``append``: the registered APPEND script; ``highest``: the highest id this worker has given of
        any sequence; ``seen``: told the loss flag and marker token of every entry written."""
        self._redis, self._append, self.marker, self.epoch = redis, append, marker, epoch
        self._log_keys, self._highest, self._seen = log_keys, highest, seen
        # Journal entries waiting for the pipeline in flight (log, payload, keep, budget, future).
        self._queued: list[tuple[str, bytes, int, int, asyncio.Future[int]]] = []
        self.writer: asyncio.Task[None] | None = None

    async def append(self, log: str, payload: bytes, keep: int, budget: int) -> int:
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._queued.append((log, payload, keep, budget, done))
        if self.writer is None:
            self.writer = asyncio.create_task(self._write_queued())
        # shield: a request that goes away while its entry is in the pipeline does not cancel the others'
        return await asyncio.shield(done)

    async def _write_queued(self) -> None:
        """The queued entries, one pipeline at a time, until none is left (then the next append starts
        a writer again)."""
        try:
            while self._queued:
                batch, self._queued = self._queued, []
                try:
                    async with self._redis.pipeline(transaction=False) as pipe:
                        highest = self._highest()
                        for log, payload, keep, budget, _ in batch:
                            args: list[bytes | int | float] = [self.epoch, payload, len(payload), highest,
                                                               keep, budget]
                            keys = [self.marker, *self._log_keys(log)]
                            await self._append(keys=keys, args=args, client=pipe)
                        results = await guard(pipe.execute(raise_on_error=False))
                except Exception as exc:  # every entry of the batch fails alike (StateUnavailable: a 503 ...)
                    for *_, done in batch:
                        if not done.done():
                            done.set_exception(exc)
                    continue
                for (*_, done), result in zip(batch, results, strict=True):
                    if done.done():
                        continue
                    if isinstance(result, Exception):
                        done.set_exception(result)
                        continue
                    seq, lost, token = result
                    self._seen(int(lost), token)
                    done.set_result(int(seq))
        finally:
            self.writer = None
