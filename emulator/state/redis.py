"""``RedisBackend``: the state on a Redis server, shared by every worker and replica (``--redis-url``).

Layout under the key prefix (``--redis-prefix``, so several emulators can share one Redis)::

    {p}rec:{space}        hash     key -> encoded value
    {p}ord:{space}        zset     key -> order of first write (``items`` keeps that order)
    {p}ctr:{name}         string   a counter (INCRBY)
    {p}log:{name}         zset     "seq:payload" scored by seq (read since, newest first)
    {p}logseq:{name}      string   the log's last sequence number (never reset by ``drop``)
    {p}logsize:{name}     string   the bytes the log holds (its budget is enforced on append)
    {p}marker             string   written at start (0); its absence later means the Redis lost the
                                   emulator's data, and holds the floor every id sequence then starts at
    {p}changed            channel  "space/key" of every record ``update`` changed, "*" on ``clear``:
                                   what keeps ``get_watched``'s copies current without a read

Round trips: a record read with ``get_watched`` (the fixtures' version, read by every request)
costs none while no change was published: the subscription's socket is polled without waiting
(a publish reaches it before the writer's reply, so a change made by one worker is seen by the
next request on any), and a copy older than WATCH_MAX_AGE_S is read again all the same. Journal
entries (``append``) from requests in flight at the same moment go out in one pipeline, in the
order they were appended, each request still waiting for its own entry to be written.

Values are encoded so that bytes and JSON both round-trip: ``b"b" + raw`` or ``b"j" + json``.
Every multi-key step is one Lua script (atomic on the server); ``update`` runs the caller's
Python function, so it is an optimistic WATCH/MULTI loop. A Redis that cannot be reached
raises ``StateUnavailable`` (a 503 naming the state backend), never a traceback; the
connection pool (bounded: a request waits for a free connection rather than fail) reconnects by
itself when the server is back.

After a Redis that lost its data, every id sequence goes on past the ids given before
(``redis_ids``).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.exceptions import WatchError

from . import StateUnavailable, Value, size_of
from .redis_codec import decode, encode, glob_escape, guard, guard_iter, member, why
from .redis_ids import Sequences, start_marker_key
from .redis_journal import JournalBatcher
from .redis_scripts import ADD, APPEND, DELETE, DROP, NEXT_ID, PUT
from .redis_watch import WatchedRecords

POOL_SIZE = 32  # connections per worker; a request waits for a free one (POOL_WAIT_S) rather than fail
POOL_WAIT_S = 5.0
RETRIES = 3  # of a command whose connection broke (a restarted Redis), on a fresh connection
CHANGED = "changed"  # the channel of record changes, under the prefix


class RedisBackend:
    kind = "redis"

    def __init__(self, url: str, prefix: str = "paradigm-emulator:", epoch: int = 0, mark_start: bool = True):
        """``mark_start``: write the start marker (floor 0) on first use unless there is one; False in
        the workers of ``serve --workers``, whose supervisor wrote it before starting them (a worker
        restarted after a loss must not take the empty Redis for a fresh one)."""
        self.url, self.prefix, self.epoch = url, prefix, epoch
        self.marker = start_marker_key(prefix)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unmarked = mark_start
        self._ids = Sequences(url)
        # get_watched's copies and the journal's writer: made for the event loop in use, by _bind.
        self._watch: WatchedRecords | None = None
        self._journal: JournalBatcher | None = None

    def _bind(self) -> None:
        """A client for the running event loop: the pool's connections belong to the loop that opened
        them, so a backend used from another loop (a test's asyncio.run, a server started after it)
        gets a client of its own there instead of a closed transport."""
        loop = asyncio.get_running_loop()
        if loop is self._loop:
            return
        self._loop = loop
        # Bounded timeouts: a Redis that went away is a quick 503, not a request that hangs. A bounded pool
        # that waits for a free connection: a burst (hundreds of ingestions taken over at once) queues
        # instead of opening connections until Redis refuses them ("Too many connections").
        # A command on a connection that a Redis restart broke is tried again on a new one (a few times,
        # quickly): once Redis answers again, no request sees the stale connections of before.
        pool = aioredis.BlockingConnectionPool.from_url(
            self.url, max_connections=POOL_SIZE, timeout=POOL_WAIT_S, socket_connect_timeout=2.0,
            socket_timeout=5.0, health_check_interval=10,
            retry=Retry(ExponentialBackoff(cap=0.25, base=0.02), RETRIES))
        self._redis = aioredis.Redis.from_pool(pool)
        self._next_id = self._redis.register_script(NEXT_ID)
        self._put = self._redis.register_script(PUT)
        self._add = self._redis.register_script(ADD)
        self._delete = self._redis.register_script(DELETE)
        self._append = self._redis.register_script(APPEND)
        self._drop = self._redis.register_script(DROP)
        self._scripts: dict[str, Any] = {}
        self._watch = WatchedRecords(self._redis, self.prefix + CHANGED, self.get)
        self._journal = JournalBatcher(self._redis, self._append, self.marker, self.epoch, self._log_keys,
                                       self._ids.top, self._ids.seen)

    def _keys(self, space: str) -> list[str]:
        p = self.prefix
        return [f"{p}rec:{space}", f"{p}ord:{space}", f"{p}ordseq:{space}"]

    def _log_keys(self, log: str) -> list[str]:
        p = self.prefix
        return [f"{p}log:{log}", f"{p}logseq:{log}", f"{p}logsize:{log}"]

    # -- for features above the protocol (the rate-limit windows) ---------------------------------------

    async def run_script(self, source: str, keys: list[str], args: list[Any]) -> Any:
        """Run a Lua script (one atomic multi-key step) on this backend's server and connections."""
        self._bind()
        script = self._scripts.get(source)
        if script is None:
            script = self._scripts[source] = self._redis.register_script(source)
        return await guard(script(keys=keys, args=args))

    async def delete_prefix(self, sub: str) -> None:
        """Every key under ``prefix + sub`` (SCAN, never KEYS)."""
        self._bind()
        batch = [key async for key in guard_iter(self._redis.scan_iter(
            match=glob_escape(self.prefix + sub) + "*", count=1000))]
        for start in range(0, len(batch), 500):
            await guard(self._redis.unlink(*batch[start:start + 500]))

    async def ping(self) -> None:
        self._bind()
        await guard(self._redis.ping())

    # -- records ---------------------------------------------------------------------------------------

    async def get(self, space: str, key: str) -> Value | None:
        self._bind()
        return decode(await guard(self._redis.hget(self._keys(space)[0], key)))

    async def get_many(self, space: str, keys: Iterable[str]) -> list[Value | None]:
        self._bind()
        keys = list(keys)
        if not keys:
            return []
        return [decode(raw) for raw in await guard(self._redis.hmget(self._keys(space)[0], keys))]

    async def get_watched(self, space: str, key: str) -> Value | None:
        """``get``, served from this worker's copy while no change to the record was published."""
        self._bind()
        assert self._watch is not None  # made by _bind
        return await self._watch.get(space, key)

    async def get_watched_many(self, space: str, keys: Iterable[str]) -> list[Value | None]:
        """``get_watched`` of several records of a space, with one look at the published changes."""
        self._bind()
        assert self._watch is not None  # made by _bind
        return await self._watch.get_many(space, keys)

    async def put(self, space: str, key: str, value: Value) -> None:
        self._bind()
        await guard(self._put(keys=self._keys(space), args=[key, encode(value)]))

    async def add(self, space: str, key: str, value: Value) -> bool:
        self._bind()
        return bool(await guard(self._add(keys=self._keys(space), args=[key, encode(value)])))

    async def delete(self, space: str, key: str) -> bool:
        self._bind()
        return bool(await guard(self._delete(keys=self._keys(space), args=[key])))

    async def items(self, space: str) -> dict[str, Value]:
        self._bind()
        records, order = self._keys(space)[:2]
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zrange(order, 0, -1)
            pipe.hgetall(records)
            keys, values = await guard(pipe.execute())
        return {k.decode(): decode(values[k]) for k in keys if k in values}

    async def update(self, space: str, key: str,
                     change: Callable[[Value | None], Value | None]) -> Value | None:
        self._bind()
        records, order, order_seq = self._keys(space)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                while True:
                    try:
                        await pipe.watch(records)
                        current = decode(await pipe.hget(records, key))
                        new = change(current)
                        pipe.multi()
                        if new is None:
                            pipe.hdel(records, key)
                            pipe.zrem(order, key)
                        else:
                            pipe.eval(PUT, 3, records, order, order_seq, key, encode(new))
                        pipe.publish(self.prefix + CHANGED, f"{space}/{key}")
                        await pipe.execute()
                        return new
                    except WatchError:
                        continue  # another worker changed the space in between: read again
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise StateUnavailable(why(exc)) from None

    # -- counters --------------------------------------------------------------------------------------

    async def incr(self, counter: str, by: int = 1) -> int:
        self._bind()
        return int(await guard(self._redis.incrby(f"{self.prefix}ctr:{counter}", by)))

    async def next_id(self, sequence: str, by: int = 1) -> int:
        await self._mark()
        ids = self._ids
        value, lost, token = await guard(self._next_id(
            keys=[self.marker, f"{self.prefix}ctr:{sequence}"],
            args=[self.epoch, by, ids.highest.get(sequence, 0), ids.top(), ids.token]))
        ids.seen(int(lost), token)
        ids.given(sequence, int(value))
        return int(value)

    async def _mark(self) -> None:
        if self._unmarked:
            self._bind()
            await guard(self._redis.set(self.marker, b"0:start", nx=True))
            self._unmarked = False

    # -- logs ------------------------------------------------------------------------------------------

    async def append(self, log: str, value: Value, keep: int | None = None, budget: int | None = None) -> int:
        self._bind()
        await self._mark()
        assert self._journal is not None  # made by _bind
        return await self._journal.append(log, encode(value), keep or 0, budget or 0)

    async def read(self, log: str, after: int = 0, limit: int | None = None) -> list[tuple[int, Value]]:
        self._bind()
        members = await guard(self._redis.zrangebyscore(
            self._log_keys(log)[0], f"({after}", "+inf", start=0 if limit else None, num=limit or None))
        return [member(m) for m in members]

    async def read_back(self, log: str, before: int | None = None,
                        limit: int | None = None) -> list[tuple[int, Value]]:
        self._bind()
        top = f"({before}" if before is not None else "+inf"
        members = await guard(self._redis.zrevrangebyscore(
            self._log_keys(log)[0], top, "-inf", start=0 if limit else None, num=limit or None))
        return [member(m) for m in members]

    async def length(self, log: str) -> int:
        self._bind()
        return int(await guard(self._redis.zcard(self._log_keys(log)[0])))

    async def drop(self, log: str) -> int:
        self._bind()
        entries, _, size = self._log_keys(log)
        return int(await guard(self._drop(keys=[entries, size])))

    # -- the rest --------------------------------------------------------------------------------------

    async def now(self) -> float:
        self._bind()
        seconds, micros = await guard(self._redis.time())
        return seconds + micros / 1_000_000

    async def clear(self) -> None:
        """Every key under the prefix (SCAN, not KEYS: a shared Redis is never blocked by it), but
        the logs' numbering, which goes on (a journal seq is never handed out twice)."""
        self._bind()
        pattern = glob_escape(self.prefix) + "*"
        keep, marker = f"{self.prefix}logseq:".encode(), self.marker.encode()
        batch: list[bytes] = []
        async for key in guard_iter(self._redis.scan_iter(match=pattern, count=1000)):
            if key.startswith(keep) or key == marker:  # the marker is rewritten below, never missing
                continue
            batch.append(key)
            if len(batch) >= 500:
                await guard(self._redis.unlink(*batch))
                batch = []
        if batch:
            await guard(self._redis.unlink(*batch))
        # Every sequence starts again (a reset is asked for, not a loss): a new token tells every worker.
        await guard(self._redis.set(self.marker, f"0:reset-{uuid.uuid4().hex}"))
        await guard(self._redis.publish(self.prefix + CHANGED, "*"))

    async def close(self) -> None:
        if self._loop is not None and self._loop is asyncio.get_running_loop():
            if self._journal is not None and self._journal.writer is not None:
                await asyncio.wait([self._journal.writer], timeout=POOL_WAIT_S)
            if self._watch is not None:
                await self._watch.close()
            await self._redis.aclose()
        self._loop = None


__all__ = ["RedisBackend", "encode", "decode", "size_of"]
