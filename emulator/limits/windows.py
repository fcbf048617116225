"""Sliding windows of requests and tokens, one per bucket (a user, and a model when it has limits).

Each admitted call is an entry (when, how many tokens) in its bucket's window; admission drops the
entries older than the window, then admits the call only if one more request and its tokens fit,
all in one atomic step, so that exactly N calls pass in a window of N and never N+1:

    memory   ``MemoryWindows``: this process's dicts (one worker: every call meets them here)
    redis    ``RedisWindows``: one Lua script per admission, on the server's own clock, so that
             every worker (and replica) shares the window; corrections ride along with it

An entry's tokens are corrected once the answer is done (``correct``): admission counted the
prompt plus ``max_tokens``, the answer may have used fewer.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import secrets
from collections import deque
from time import monotonic
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from ..state import Backend

if TYPE_CHECKING:
    from ..state.redis import RedisBackend

log = logging.getLogger("emulator.limits")


class Decision(NamedTuple):
    admitted: bool
    requests: int  # in the window, this call included when admitted
    tokens: int
    wait_requests_s: float  # until one more request fits (0: it does)
    wait_tokens_s: float
    reset_s: float  # until the oldest entry leaves the window
    entry: object = None  # an admitted call's entry, what ``correct`` is given to change its tokens


class Windows(Protocol):
    async def admit(self, bucket: str, window_s: float, rpm: int | None, tpm: int | None,
                    cost: int) -> Decision: ...

    async def correct(self, bucket: str, entry: object, tokens: int) -> None: ...

    async def clear(self, prefix: str = "") -> None: ...


class _Bucket:
    __slots__ = ("entries", "costs", "used")

    def __init__(self) -> None:
        # Plain tuples and an int -> int dict, which the garbage collector does not track: a window
        # of a minute at thousands of calls a second adds nothing to what a full collection walks.
        self.entries: deque[tuple[float, int]] = deque()  # (when, entry number), oldest first
        self.costs: dict[int, int] = {}  # entry number -> its tokens (entries counted with a tpm)
        self.used = 0  # the tokens of the entries in the window


class MemoryWindows:
    def __init__(self) -> None:
        self._buckets: dict[str, _Bucket] = {}
        self._numbers = itertools.count(1)  # entry numbers, never reused (a reset makes new buckets)

    async def admit(self, bucket: str, window_s: float, rpm: int | None, tpm: int | None,
                    cost: int) -> Decision:
        now = monotonic()
        held = self._buckets.get(bucket)
        if held is None:
            held = self._buckets[bucket] = _Bucket()
        entries, costs = held.entries, held.costs
        if entries and entries[0][0] <= now - window_s:
            since = now - window_s
            while entries and entries[0][0] <= since:
                held.used -= costs.pop(entries.popleft()[1], 0)
        count, used = len(entries), held.used
        oldest = entries[0][0] if entries else now
        if (rpm is not None and count >= rpm) or (tpm is not None and used + cost > tpm):
            wait_r = wait_t = 0.0
            if rpm is not None and count >= rpm:
                wait_r = entries[count - rpm][0] + window_s - now
            if tpm is not None and used + cost > tpm:
                wait_t = window_s
                if cost <= tpm:
                    freed, need = 0, used + cost - tpm
                    for at, number in entries:
                        freed += costs.get(number, 0)
                        if freed >= need:
                            wait_t = at + window_s - now
                            break
            if wait_r > 0 or wait_t > 0:
                return Decision(False, count, used, max(wait_r, 0.0), max(wait_t, 0.0),
                                oldest + window_s - now)
        number = next(self._numbers)
        entries.append((now, number))
        if tpm is not None:
            costs[number] = cost
            held.used = used + cost
        return Decision(True, count + 1, used + cost, 0.0, 0.0, oldest + window_s - now, number)

    async def correct(self, bucket: str, entry: object, tokens: int) -> None:
        held = self._buckets.get(bucket)
        if held is not None and isinstance(entry, int) and entry in held.costs:  # still in the window
            held.used += tokens - held.costs[entry]
            held.costs[entry] = tokens

    def forget(self) -> None:
        """Every window (a reset of the whole emulator)."""
        self._buckets.clear()

    async def clear(self, prefix: str = "") -> None:
        for name in [b for b in self._buckets if b.startswith(prefix)]:
            del self._buckets[name]


# KEYS: the window (zset entry -> ms), the entries' tokens (hash), the tokens in the window.
# ARGV: window ms, rpm (0: none), tpm (0: none), cost, entry, then corrections of this bucket's
# entries not yet sent: entry, tokens, ...
_ADMIT = """
for i = 6, #ARGV, 2 do
  local was = redis.call('HGET', KEYS[2], ARGV[i])
  if was then
    redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
    redis.call('INCRBY', KEYS[3], tonumber(ARGV[i + 1]) - tonumber(was))
  end
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
while true do
  local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - window, 'LIMIT', 0, 500)
  if #old == 0 then break end
  local costs = redis.call('HMGET', KEYS[2], unpack(old))
  local gone = 0
  for i = 1, #old do if costs[i] then gone = gone + tonumber(costs[i]) end end
  redis.call('ZREM', KEYS[1], unpack(old))
  redis.call('HDEL', KEYS[2], unpack(old))
  redis.call('DECRBY', KEYS[3], gone)
end
local count = redis.call('ZCARD', KEYS[1])
local used = tonumber(redis.call('GET', KEYS[3]) or '0')
local rpm, tpm, cost = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local oldest = now
if first[2] then oldest = tonumber(first[2]) end
local wait_r, wait_t = 0, 0
if rpm > 0 and count + 1 > rpm then
  local nth = redis.call('ZRANGE', KEYS[1], count - rpm, count - rpm, 'WITHSCORES')
  wait_r = tonumber(nth[2]) + window - now
end
if tpm > 0 and used + cost > tpm then
  wait_t = window
  if cost <= tpm then
    local need, freed = used + cost - tpm, 0
    local members = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
    for i = 1, #members, 2 do
      freed = freed + tonumber(redis.call('HGET', KEYS[2], members[i]) or '0')
      if freed >= need then wait_t = tonumber(members[i + 1]) + window - now break end
    end
  end
end
if wait_r > 0 or wait_t > 0 then
  return {0, count, used, wait_r, wait_t, oldest + window - now}
end
redis.call('ZADD', KEYS[1], now, ARGV[5])
redis.call('HSET', KEYS[2], ARGV[5], cost)
redis.call('INCRBY', KEYS[3], cost)
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], window * 2 + 1000) end
return {1, count + 1, used + cost, 0, 0, oldest + window - now}
"""
# KEYS: each bucket's three keys, as above. ARGV: bucket number (from 0), entry, tokens, ...
_CORRECT = """
for i = 1, #ARGV, 3 do
  local b = tonumber(ARGV[i]) * 3
  local was = redis.call('HGET', KEYS[b + 2], ARGV[i + 1])
  if was then
    redis.call('HSET', KEYS[b + 2], ARGV[i + 1], ARGV[i + 2])
    redis.call('INCRBY', KEYS[b + 3], tonumber(ARGV[i + 2]) - tonumber(was))
  end
end
return 1
"""


class RedisWindows:
    """The windows on the Redis of ``--redis-url``, under its key prefix (a reset clears them too),
    through the backend's own connections.

    A correction does not hold its answer for a round trip: it waits here and goes with this
    worker's next admission to its bucket (in the same script), or with the others waiting in one
    script sent right after, whichever comes first; an admission to a bucket whose corrections are
    on their way waits for them. So a worker never admits a call before the corrections of the
    calls it answered, and another worker sees them a round trip later (stricter meanwhile)."""

    def __init__(self, backend: RedisBackend):
        self.backend = backend
        # An entry's name is unique across workers and replicas: this process's, then a count.
        self._me = f"{os.getpid()}-{secrets.token_hex(4)}-"
        self._entries = itertools.count(1)
        self._waiting: dict[str, dict[str, int]] = {}  # bucket -> entry -> its tokens
        self._sending: dict[str, dict[str, int]] = {}  # the corrections on their way
        self._sent: asyncio.Future[None] | None = None  # done once they are applied
        self._sender: asyncio.Task[None] | None = None

    def _keys(self, bucket: str) -> list[str]:
        base = f"{self.backend.prefix}{SUB}{bucket}"
        return [base + ":w", base + ":c", base + ":t"]

    async def admit(self, bucket: str, window_s: float, rpm: int | None, tpm: int | None,
                    cost: int) -> Decision:
        if bucket in self._sending and self._sent is not None:
            await asyncio.shield(self._sent)
        entry = self._me + str(next(self._entries))
        args: list[Any] = [max(1, round(window_s * 1000)), rpm or 0, tpm or 0, cost, entry]
        waiting = self._waiting.pop(bucket, None)
        if waiting:
            for name, tokens in waiting.items():
                args += (name, tokens)
        got = await self.backend.run_script(_ADMIT, self._keys(bucket), args)
        admitted, count, used, wait_r, wait_t, reset = (int(v) for v in got)
        return Decision(bool(admitted), count, used, wait_r / 1000, wait_t / 1000, reset / 1000,
                        entry if admitted else None)

    async def correct(self, bucket: str, entry: object, tokens: int) -> None:
        assert isinstance(entry, str)
        self._waiting.setdefault(bucket, {})[entry] = tokens
        loop = asyncio.get_running_loop()
        if self._sender is None or self._sender.get_loop() is not loop:  # none yet, or a closed loop's
            self._sending, self._sent = {}, None
            self._sender = loop.create_task(self._send())

    async def _send(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, {}
                self._sending, self._sent = batch, asyncio.get_running_loop().create_future()
                keys: list[str] = []
                args: list[Any] = []
                for number, (bucket, entries) in enumerate(batch.items()):
                    keys += self._keys(bucket)
                    for name, tokens in entries.items():
                        args += (number, name, tokens)
                try:
                    await self.backend.run_script(_CORRECT, keys, args)
                except Exception as exc:  # the entries keep what admission counted, until they leave
                    log.warning("rate-limit token corrections not applied: %s", exc)
                finally:
                    self._sending = {}
                    self._sent.set_result(None)
        finally:
            self._sender = None

    async def clear(self, prefix: str = "") -> None:
        await self.backend.delete_prefix(SUB + prefix)


SUB = "rl:"


def windows_for(backend: Backend) -> Windows:
    if backend.kind == "redis":
        from ..state.redis import RedisBackend  # imported only when used, as the backend itself is

        assert isinstance(backend, RedisBackend)
        return RedisWindows(backend)
    return MemoryWindows()
