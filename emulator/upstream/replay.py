"""A recorded answer (a fixture response's ``raw``) -> the response, byte for byte as recorded.

A body is sent as written (``body`` text, or ``body_base64`` for bytes that are not UTF-8); a stream
as its events, each after its recorded delay scaled by ``--replay-speed`` (0: none), and, when the
upstream had cut it (``cut: true``), with the connection closed after the last one, as it was.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Mapping
from typing import Any

from starlette.responses import Response, StreamingResponse

from ..sse import StreamDropped
from .exchange import event_bytes

# Set by the server itself on every response: a recorded one would be sent twice.
SERVER_HEADERS = frozenset(
    {"content-length", "transfer-encoding", "connection", "date", "server", "keep-alive"}
)


def recorded_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {name: value for name, value in headers.items() if name.lower() not in SERVER_HEADERS}


def replay_response(raw: Mapping[str, Any], speed: float) -> Response:
    status, headers = int(raw["status"]), recorded_headers(raw.get("headers") or {})
    if "events" in raw:
        events = [(event_bytes(e), float(e.get("delay_ms", 0.0)) * speed) for e in raw["events"]]
        return StreamingResponse(_stream(events, bool(raw.get("cut"))), status_code=status, headers=headers)
    if "body_base64" in raw:
        body = base64.b64decode(raw["body_base64"])
    else:
        body = str(raw.get("body", "")).encode("utf-8")
    if raw.get("cut"):
        return StreamingResponse(_stream([(body, 0.0)], True), status_code=status, headers=headers)
    return Response(body, status_code=status, headers=headers)


async def _stream(events: list[tuple[bytes, float]], cut: bool) -> AsyncIterator[bytes]:
    for data, delay_ms in events:
        if delay_ms > 0:
            await asyncio.sleep(delay_ms / 1000)
        yield data
    if cut:
        raise StreamDropped()
