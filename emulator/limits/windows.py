"""Sliding windows of requests and tokens, one per bucket (a user, and a model when it has limits).

Each admitted call is an entry (when, how many tokens) in its bucket's window; admission drops the
entries older than the window, then admits the call only if one more request and its tokens fit,
all in one atomic step, so that exactly N calls pass in a window of N and never N+1:

    memory   ``MemoryWindows``: this process's dicts (one worker: every call meets them here)
    redis    ``RedisWindows``: one Lua script per admission, on the server's own clock, so that
             every worker (and replica) shares the window

An entry's tokens are corrected once the answer is done (``correct``): admission counted the
prompt plus ``max_tokens``, the answer may have used fewer.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ..state import Backend

if TYPE_CHECKING:
    from ..state.redis import RedisBackend


@dataclass(frozen=True)
class Decision:
    admitted: bool
    requests: int  # in the window, this call included when admitted
    tokens: int
    wait_requests_s: float  # until one more request fits (0: it does)
    wait_tokens_s: float
    reset_s: float  # until the oldest entry leaves the window


class Windows(Protocol):
    async def admit(self, bucket: str, window_s: float, rpm: int | None, tpm: int | None, cost: int,
                    entry: str) -> Decision: ...

    async def correct(self, bucket: str, entry: str, tokens: int) -> None: ...

    async def clear(self, prefix: str = "") -> None: ...


class _Bucket:
    def __init__(self) -> None:
        self.entries: deque[tuple[float, str]] = deque()
        self.costs: dict[str, int] = {}
        self.used = 0


class MemoryWindows:
    def __init__(self) -> None:
        self._buckets: dict[str, _Bucket] = {}

    async def admit(self, bucket: str, window_s: float, rpm: int | None, tpm: int | None, cost: int,
                    entry: str) -> Decision:
        now = time.monotonic()
        held = self._buckets.get(bucket)
        if held is None:
            held = self._buckets[bucket] = _Bucket()
        entries = held.entries
        while entries and entries[0][0] <= now - window_s:
            _, gone = entries.popleft()
            held.used -= held.costs.pop(gone, 0)
        count, used = len(entries), held.used
        wait_r = wait_t = 0.0
        if rpm is not None and count + 1 > rpm:
            wait_r = entries[count - rpm][0] + window_s - now
        if tpm is not None and used + cost > tpm:
            wait_t = window_s
            if cost <= tpm:
                freed, need = 0, used + cost - tpm
                for at, name in entries:
                    freed += held.costs.get(name, 0)
                    if freed >= need:
                        wait_t = at + window_s - now
                        break
        oldest = entries[0][0] if entries else now
        if wait_r > 0 or wait_t > 0:
            return Decision(False, count, used, max(wait_r, 0.0), max(wait_t, 0.0), oldest + window_s - now)
        entries.append((now, entry))
        held.costs[entry] = cost
        held.used += cost
        return Decision(True, count + 1, used + cost, 0.0, 0.0, oldest + window_s - now)

    async def correct(self, bucket: str, entry: str, tokens: int) -> None:
        held = self._buckets.get(bucket)
        if held is not None and entry in held.costs:
            held.used += tokens - held.costs[entry]
            held.costs[entry] = tokens

    def forget(self) -> None:
        """Every window (a reset of the whole emulator)."""
        self._buckets.clear()

    async def clear(self, prefix: str = "") -> None:
        for name in [b for b in self._buckets if b.startswith(prefix)]:
            del self._buckets[name]


# KEYS: the window (zset entry -> ms), the entries' tokens (hash), the tokens in the window.
# ARGV: window ms, rpm (0: none), tpm (0: none), cost, entry.
_ADMIT = """
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
_CORRECT = """
local was = redis.call('HGET', KEYS[2], ARGV[1])
if was then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
  redis.call('INCRBY', KEYS[3], tonumber(ARGV[2]) - tonumber(was))
end
return 1
"""


class RedisWindows:
    """The windows on the Redis of ``--redis-url``, under its key prefix (a reset clears them too),
    through the backend's own connections."""

    def __init__(self, backend: RedisBackend):
        self.backend = backend

    def _keys(self, bucket: str) -> list[str]:
        base = f"{self.backend.prefix}{SUB}{bucket}"
        return [base + ":w", base + ":c", base + ":t"]

    async def admit(self, bucket: str, window_s: float, rpm: int | None, tpm: int | None, cost: int,
                    entry: str) -> Decision:
        got = await self.backend.run_script(
            _ADMIT, self._keys(bucket), [max(1, round(window_s * 1000)), rpm or 0, tpm or 0, cost, entry])
        admitted, count, used, wait_r, wait_t, reset = (int(v) for v in got)
        return Decision(bool(admitted), count, used, wait_r / 1000, wait_t / 1000, reset / 1000)

    async def correct(self, bucket: str, entry: str, tokens: int) -> None:
        await self.backend.run_script(_CORRECT, self._keys(bucket), [entry, tokens])

    async def clear(self, prefix: str = "") -> None:
        await self.backend.delete_prefix(SUB + prefix)


SUB = "rl:"


def windows_for(backend: Backend) -> Windows:
    if backend.kind == "redis":
        from ..state.redis import RedisBackend  # imported only when used, as the backend itself is

        assert isinstance(backend, RedisBackend)
        return RedisWindows(backend)
    return MemoryWindows()
