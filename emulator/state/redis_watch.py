"""The Redis backend's watched records: copies kept while no change to them was published."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from . import Value

WATCH_MAX_AGE_S = 1.0  # a watched record is read again at least this often, published change or not


class WatchedRecords:
    """This worker's copies of the records read with ``get_watched``, valid while subscribed to the
    channel of record changes."""

    def __init__(self, redis: aioredis.Redis, channel: str,
                 read: Callable[[str, str], Awaitable[Value | None]]):
        self._redis, self._channel, self._read = redis, channel, read
        # (space, key) -> (value, monotonic time read); valid while subscribed.
        self._watched: dict[tuple[str, str], tuple[Value | None, float]] = {}
        self._pubsub: Any = None  # the subscription to the channel, None until the first get
        self._pubsub_retry_at = 0.0
        self._polling = False  # a request is reading the subscription's socket
        self._polled = asyncio.Event()  # set whenever no request is reading it
        self._polled.set()
        self._last_look: tuple[float, bool] | None = None  # (when the last look began, its answer)

    async def get(self, space: str, key: str) -> Value | None:
        """``read``, served from this worker's copy while no change to the record was published."""
        return (await self.get_many(space, (key,)))[0]

    async def get_many(self, space: str, keys: Iterable[str]) -> list[Value | None]:
        """``get`` of several records after one look at the subscription (each look costs the
        client's CPU, ~the figure of a round trip's)."""
        now = time.monotonic()
        fresh = await self._no_changes(now)
        found: list[Value | None] = []
        for key in keys:
            kept = self._watched.get((space, key))
            if fresh and kept is not None and now - kept[1] < WATCH_MAX_AGE_S:
                found.append(kept[0])
                continue
            value = await self._read(space, key)
            if fresh:  # subscribed before the read began: a change after it is published, and seen next time
                self._watched[(space, key)] = (value, now)
            found.append(value)
        return found

    async def _no_changes(self, now: float) -> bool:
        """Whether the subscription is live and nothing was published since the copies were read
        (any message, a resubscription's confirmation included, drops every copy)."""
        if self._pubsub is None:
            if now < self._pubsub_retry_at:
                return False
            self._pubsub_retry_at = now + WATCH_MAX_AGE_S
            try:
                pubsub = self._redis.pubsub()
                await pubsub.subscribe(self._channel)
            except (RedisError, OSError):
                return False
            self._pubsub = pubsub
            self._watched = {}
        # Another request reading the subscription: a look that began after this call did (``now``)
        # has seen every change published before it, and its answer is this one's; an earlier look
        # may not have, so this one looks again once it is done (a turn of the loop, where a
        # record's read would be a round trip).
        while True:
            last = self._last_look
            if last is not None and last[0] >= now:
                return last[1]
            if not self._polling:
                break
            await self._polled.wait()
        if self._pubsub is None:  # the look that ended lost the subscription
            return False
        self._polling = True
        self._polled.clear()
        began = time.monotonic()
        pubsub = self._pubsub
        try:
            changed = False
            while await pubsub.get_message(timeout=0) is not None:
                changed = True
        except (RedisError, OSError):
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()
            self._pubsub, self._watched = None, {}
            self._last_look = (began, False)
            return False
        finally:
            self._polling = False
            self._polled.set()
        if changed:
            self._watched = {}
        self._last_look = (began, True)
        return True

    async def close(self) -> None:
        if self._pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._pubsub.aclose()
