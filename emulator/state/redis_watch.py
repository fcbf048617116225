"""The Redis backend's watched records: copies kept while no change to them was published."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable
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

    async def get(self, space: str, key: str) -> Value | None:
        """``read``, served from this worker's copy while no change to the record was published."""
        now = time.monotonic()
        fresh = await self._no_changes(now)
        kept = self._watched.get((space, key))
        if fresh and kept is not None and now - kept[1] < WATCH_MAX_AGE_S:
            return kept[0]
        value = await self._read(space, key)
        if fresh:  # subscribed before the read began: a change after it is published, and seen next time
            self._watched[(space, key)] = (value, now)
        return value

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
        if self._polling:  # another request is reading the subscription: this one reads the record
            return False
        self._polling = True
        pubsub = self._pubsub
        try:
            changed = False
            while await pubsub.get_message(timeout=0) is not None:
                changed = True
        except (RedisError, OSError):
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()
            self._pubsub, self._watched = None, {}
            return False
        finally:
            self._polling = False
        if changed:
            self._watched = {}
        return True

    async def close(self) -> None:
        if self._pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._pubsub.aclose()
