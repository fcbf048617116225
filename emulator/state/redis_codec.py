"""How the Redis backend writes a value, reads it back, and turns a lost server into ``StateUnavailable``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from . import StateUnavailable, Value


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


def member(raw: bytes) -> tuple[int, Value]:
    seq, _, payload = raw.partition(b":")
    return int(seq), decode(payload)


def glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def why(exc: Exception) -> str:
    return f"The state backend (Redis) is unavailable: {exc}"


async def guard(awaitable: Awaitable[Any]) -> Any:
    try:
        return await awaitable
    except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
        raise StateUnavailable(why(exc)) from None
    except RedisError as exc:
        if "LOADING" in str(exc) or "MISCONF" in str(exc):
            raise StateUnavailable(why(exc)) from None
        raise


async def guard_iter(iterator: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    try:
        async for item in iterator:
            yield item
    except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
        raise StateUnavailable(why(exc)) from None

