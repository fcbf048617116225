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

A Redis without persistence that restarts has lost every record, and its counters start again.
So that an id is still never handed out twice (a client holding an old file id gets a 404, not
someone else's file), the marker written at start is checked by every ``next_id`` and journal
append, in the same script: when it is gone, the first script to see it writes a floor, the
seconds since the emulator's epoch on the Redis clock (past every id given before, at under one
id a second since the data began, and past the highest id this worker gave), and every id
sequence, the journal's included, goes on from there. The worker that saw it logs it once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, WatchError
from redis.exceptions import TimeoutError as RedisTimeoutError

from . import StateUnavailable, Value, size_of

log = logging.getLogger("emulator.state")
MARKER = "marker"
POOL_SIZE = 32  # connections per worker; a request waits for a free one (POOL_WAIT_S) rather than fail
POOL_WAIT_S = 5.0
RETRIES = 3  # of a command whose connection broke (a restarted Redis), on a fresh connection
WATCH_MAX_AGE_S = 1.0  # a watched record is read again at least this often, published change or not
CHANGED = "changed"  # the channel of record changes, under the prefix
# The floor of every id sequence. KEYS[1]: the marker ("floor:token"); ARGV[1]: the epoch, ARGV[4]: the
# highest id this worker has given of any sequence. When the marker is gone (the data was lost), a new
# one: past the seconds since the epoch on the Redis clock and past that id. Sets floor, token, lost.
_FLOOR = """
local lost = 0
local marker = redis.call('GET', KEYS[1])
local floor, token
if not marker then
  local now = redis.call('TIME')
  floor = math.max(0, tonumber(now[1]) - tonumber(ARGV[1]), tonumber(ARGV[4]))
  token = 'lost-' .. now[1] .. '.' .. now[2]
  redis.call('SET', KEYS[1], string.format('%d', floor) .. ':' .. token)
  lost = 1
else
  local sep = string.find(marker, ':', 1, true)
  floor = tonumber(string.sub(marker, 1, sep - 1))
  token = string.sub(marker, sep + 1)
end
"""
# KEYS: marker, counter. ARGV: epoch, by, the highest id this worker has given of this sequence, of
# any, the marker token it knows. A new counter starts at the floor, or past this worker's highest
# id when the data was lost or the token is the one it knows (no reset since).
_NEXT_ID = _FLOOR + """
if redis.call('EXISTS', KEYS[2]) == 0 then
  local start = floor
  if (lost == 1 or token == ARGV[5]) and tonumber(ARGV[3]) > start then start = tonumber(ARGV[3]) end
  redis.call('SET', KEYS[2], string.format('%d', start))
end
return {redis.call('INCRBY', KEYS[2], ARGV[2]), lost, token}
"""
_PUT = """
if redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  redis.call('ZADD', KEYS[2], 'NX', redis.call('INCR', KEYS[3]), ARGV[1])
end
return 1
"""
_ADD = """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  redis.call('ZADD', KEYS[2], 'NX', redis.call('INCR', KEYS[3]), ARGV[1])
  return 1
end
return 0
"""
_DELETE = """
redis.call('ZREM', KEYS[2], ARGV[1])
return redis.call('HDEL', KEYS[1], ARGV[1])
"""
# KEYS: marker, log, seq, size. ARGV: epoch, payload, size of the value, highest id (see _FLOOR),
# keep (0: no limit), budget (0: none). The newest entry always stays, even alone over the budget.
_APPEND = _FLOOR + """
if redis.call('EXISTS', KEYS[3]) == 0 then
  redis.call('SET', KEYS[3], floor)
end
local seq = redis.call('INCR', KEYS[3])
redis.call('ZADD', KEYS[2], seq, seq .. ':' .. ARGV[2])
local size = redis.call('INCRBY', KEYS[4], ARGV[3])
local keep, budget = tonumber(ARGV[5]), tonumber(ARGV[6])
while true do
  local count = redis.call('ZCARD', KEYS[2])
  if count <= 1 or not ((keep > 0 and count > keep) or (budget > 0 and size > budget)) then break end
  local oldest = redis.call('ZPOPMIN', KEYS[2])
  local member = oldest[1]
  local payload_size = string.len(member) - string.len(string.match(member, '^%d+:'))
  size = redis.call('DECRBY', KEYS[4], payload_size)
end
return {seq, lost, token}
"""
_DROP = """
local count = redis.call('ZCARD', KEYS[1])
redis.call('DEL', KEYS[1], KEYS[2])
return count
"""


def encode(value: Value) -> bytes:
    if isinstance(value, bytes):
        return b"b" + value
    return b"j" + json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def decode(raw: bytes | str | None) -> Value | None:
    if raw is None:
        return None
    if isinstance(raw, str):  # the client is made to answer bytes; a str is its typing's other case
        raw = raw.encode()
    if raw[:1] == b"b":
        return raw[1:]
    return json.loads(raw[1:])


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
        self._token = ""  # the marker token this worker last saw: a new one means a reset or a loss
        self._highest: dict[str, int] = {}  # the highest id this worker has had of each sequence
        # get_watched's copies: (space, key) -> (value, monotonic time read); valid while subscribed.
        self._watched: dict[tuple[str, str], tuple[Value | None, float]] = {}
        self._pubsub: Any = None  # the subscription to CHANGED, None until the first get_watched
        self._pubsub_retry_at = 0.0
        self._polling = False  # a request is reading the subscription's socket
        # Journal entries waiting for the pipeline in flight (log, payload, keep, budget, future).
        self._queued: list[tuple[str, bytes, int, int, asyncio.Future[int]]] = []
        self._writer: asyncio.Task[None] | None = None

    def _bind(self) -> None:
        """A client for the running event loop: the pool's connections belong to the loop that opened
        them, so a backend used from another loop (a test's asyncio.run, a server started after it)
        gets a client of its own there instead of a closed transport."""
        loop = asyncio.get_running_loop()
        if loop is self._loop:
            return
        self._loop = loop
        self._watched, self._pubsub, self._queued, self._writer, self._polling = {}, None, [], None, False
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
        self._next_id = self._redis.register_script(_NEXT_ID)
        self._put = self._redis.register_script(_PUT)
        self._add = self._redis.register_script(_ADD)
        self._delete = self._redis.register_script(_DELETE)
        self._append = self._redis.register_script(_APPEND)
        self._drop = self._redis.register_script(_DROP)
        self._scripts: dict[str, Any] = {}

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
        return await _guard(script(keys=keys, args=args))

    async def delete_prefix(self, sub: str) -> None:
        """Every key under ``prefix + sub`` (SCAN, never KEYS)."""
        self._bind()
        batch = [key async for key in _guard_iter(self._redis.scan_iter(
            match=_glob_escape(self.prefix + sub) + "*", count=1000))]
        for start in range(0, len(batch), 500):
            await _guard(self._redis.unlink(*batch[start:start + 500]))

    async def ping(self) -> None:
        self._bind()
        await _guard(self._redis.ping())

    # -- records ---------------------------------------------------------------------------------------

    async def get(self, space: str, key: str) -> Value | None:
        self._bind()
        return decode(await _guard(self._redis.hget(self._keys(space)[0], key)))

    async def get_many(self, space: str, keys: Iterable[str]) -> list[Value | None]:
        self._bind()
        keys = list(keys)
        if not keys:
            return []
        return [decode(raw) for raw in await _guard(self._redis.hmget(self._keys(space)[0], keys))]

    async def get_watched(self, space: str, key: str) -> Value | None:
        """``get``, served from this worker's copy while no change to the record was published."""
        self._bind()
        now = time.monotonic()
        fresh = await self._no_changes(now)
        kept = self._watched.get((space, key))
        if fresh and kept is not None and now - kept[1] < WATCH_MAX_AGE_S:
            return kept[0]
        value = await self.get(space, key)
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
                await pubsub.subscribe(self.prefix + CHANGED)
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

    async def put(self, space: str, key: str, value: Value) -> None:
        self._bind()
        await _guard(self._put(keys=self._keys(space), args=[key, encode(value)]))

    async def add(self, space: str, key: str, value: Value) -> bool:
        self._bind()
        return bool(await _guard(self._add(keys=self._keys(space), args=[key, encode(value)])))

    async def delete(self, space: str, key: str) -> bool:
        self._bind()
        return bool(await _guard(self._delete(keys=self._keys(space), args=[key])))

    async def items(self, space: str) -> dict[str, Value]:
        self._bind()
        records, order = self._keys(space)[:2]
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zrange(order, 0, -1)
            pipe.hgetall(records)
            keys, values = await _guard(pipe.execute())
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
                            pipe.eval(_PUT, 3, records, order, order_seq, key, encode(new))
                        pipe.publish(self.prefix + CHANGED, f"{space}/{key}")
                        await pipe.execute()
                        return new
                    except WatchError:
                        continue  # another worker changed the space in between: read again
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise StateUnavailable(_why(exc)) from None

    # -- counters --------------------------------------------------------------------------------------

    async def incr(self, counter: str, by: int = 1) -> int:
        self._bind()
        return int(await _guard(self._redis.incrby(f"{self.prefix}ctr:{counter}", by)))

    async def next_id(self, sequence: str, by: int = 1) -> int:
        await self._mark()
        highest = self._highest.get(sequence, 0)
        value, lost, token = await _guard(self._next_id(
            keys=[self.marker, f"{self.prefix}ctr:{sequence}"],
            args=[self.epoch, by, highest, max(self._highest.values(), default=0), self._token]))
        self._seen(int(lost), token)
        self._highest[sequence] = max(int(value), self._highest.get(sequence, 0))
        return int(value)

    async def _mark(self) -> None:
        if self._unmarked:
            self._bind()
            await _guard(self._redis.set(self.marker, b"0:start", nx=True))
            self._unmarked = False

    def _seen(self, lost: int, token: bytes | str) -> None:
        token = token.decode() if isinstance(token, bytes) else token
        if token != self._token:
            self._highest = {}  # a reset (or a loss, whose floor is past them): they no longer bind
            self._token = token
        if lost:
            log.warning("the Redis at %s (--redis-url) has lost the emulator's data: it restarted without "
                        "persistence, or was emptied. Every file, thread, fixture and journal entry made "
                        "before is gone, and every id sequence goes on past the ids given before, so an "
                        "old id answers 404. Turn Redis persistence on (appendonly yes) to keep the data.",
                        self.url)

    # -- logs ------------------------------------------------------------------------------------------

    async def append(self, log: str, value: Value, keep: int | None = None, budget: int | None = None) -> int:
        self._bind()
        await self._mark()
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._queued.append((log, encode(value), keep or 0, budget or 0, done))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_queued())
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
                        highest = max(self._highest.values(), default=0)
                        for log, payload, keep, budget, _ in batch:
                            args: list[bytes | int | float] = [self.epoch, payload, len(payload), highest,
                                                               keep, budget]
                            keys = [self.marker, *self._log_keys(log)]
                            await self._append(keys=keys, args=args, client=pipe)
                        results = await _guard(pipe.execute(raise_on_error=False))
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
            self._writer = None

    async def read(self, log: str, after: int = 0, limit: int | None = None) -> list[tuple[int, Value]]:
        self._bind()
        members = await _guard(self._redis.zrangebyscore(
            self._log_keys(log)[0], f"({after}", "+inf", start=0 if limit else None, num=limit or None))
        return [_member(m) for m in members]

    async def read_back(self, log: str, before: int | None = None,
                        limit: int | None = None) -> list[tuple[int, Value]]:
        self._bind()
        top = f"({before}" if before is not None else "+inf"
        members = await _guard(self._redis.zrevrangebyscore(
            self._log_keys(log)[0], top, "-inf", start=0 if limit else None, num=limit or None))
        return [_member(m) for m in members]

    async def length(self, log: str) -> int:
        self._bind()
        return int(await _guard(self._redis.zcard(self._log_keys(log)[0])))

    async def drop(self, log: str) -> int:
        self._bind()
        entries, _, size = self._log_keys(log)
        return int(await _guard(self._drop(keys=[entries, size])))

    # -- the rest --------------------------------------------------------------------------------------

    async def now(self) -> float:
        self._bind()
        seconds, micros = await _guard(self._redis.time())
        return seconds + micros / 1_000_000

    async def clear(self) -> None:
        """Every key under the prefix (SCAN, not KEYS: a shared Redis is never blocked by it), but
        the logs' numbering, which goes on (a journal seq is never handed out twice)."""
        self._bind()
        pattern = _glob_escape(self.prefix) + "*"
        keep, marker = f"{self.prefix}logseq:".encode(), self.marker.encode()
        batch: list[bytes] = []
        async for key in _guard_iter(self._redis.scan_iter(match=pattern, count=1000)):
            if key.startswith(keep) or key == marker:  # the marker is rewritten below, never missing
                continue
            batch.append(key)
            if len(batch) >= 500:
                await _guard(self._redis.unlink(*batch))
                batch = []
        if batch:
            await _guard(self._redis.unlink(*batch))
        # Every sequence starts again (a reset is asked for, not a loss): a new token tells every worker.
        await _guard(self._redis.set(self.marker, f"0:reset-{uuid.uuid4().hex}"))
        await _guard(self._redis.publish(self.prefix + CHANGED, "*"))

    async def close(self) -> None:
        if self._loop is not None and self._loop is asyncio.get_running_loop():
            if self._writer is not None:
                await asyncio.wait([self._writer], timeout=POOL_WAIT_S)
            if self._pubsub is not None:
                with contextlib.suppress(RedisError, OSError):
                    await self._pubsub.aclose()
            await self._redis.aclose()
        self._loop = None


def start_marker_key(prefix: str) -> str:
    """The key of the marker written at start (``serve --workers`` writes it before its workers)."""
    return f"{prefix}{MARKER}"


def _member(raw: bytes) -> tuple[int, Value]:
    seq, _, payload = raw.partition(b":")
    return int(seq), decode(payload)


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def _why(exc: Exception) -> str:
    return f"The state backend (Redis) is unavailable: {exc}"


async def _guard(awaitable: Awaitable[Any]) -> Any:
    try:
        return await awaitable
    except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
        raise StateUnavailable(_why(exc)) from None
    except RedisError as exc:
        if "LOADING" in str(exc) or "MISCONF" in str(exc):
            raise StateUnavailable(_why(exc)) from None
        raise


async def _guard_iter(iterator: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    try:
        async for item in iterator:
            yield item
    except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
        raise StateUnavailable(_why(exc)) from None


__all__ = ["RedisBackend", "encode", "decode", "size_of"]
