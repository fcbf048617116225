"""Server-sent events, whatever they carry: pacing, faults and the streamed response.

The chunk format (vLLM's chat and completion chunks) is ``streaming``'s; this module only
knows that a stream is a sequence of ``data: ...\\n\\n`` events ending with ``data: [DONE]``,
when each one is due (``Timing``), and how it goes wrong (``StreamFault``): cut cleanly, an
error event, or a dropped connection. A cut is reported through ``on_cut`` so the journal can
record the stream as truncated.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, Protocol

from starlette.responses import StreamingResponse
from starlette.types import Send

from .answer import StreamFault, Timing
from .errors import dumps

DONE = b"data: [DONE]\n\n"
SSE_HEADERS = {"Cache-Control": "no-cache"}


class StreamDropped(Exception):
    """Raised inside a stream to make the server close the connection abruptly (a scripted fault)."""


def pacing(timing: Timing, fault: StreamFault | None, events: Iterable[bytes],
           on_cut: Callable[[], None] | None = None) -> AsyncIterator[bytes] | Iterable[bytes]:
    """The events as they are due: the events themselves when nothing delays or cuts them (the
    usual stream: no step per chunk between the generator and the socket), else ``paced``."""
    if fault is None and not timing.ttft_ms and not timing.itl_ms and timing.chunk_delays_ms is None:
        return events
    return paced(timing, fault, events, on_cut)


async def paced(timing: Timing, fault: StreamFault | None, events: Iterable[bytes],
                on_cut: Callable[[], None] | None = None) -> AsyncIterator[bytes]:
    """Apply a timing and a stream fault to events, yielding each as it is due."""
    sent = 0
    for event in events:
        if fault is not None and event is not DONE:
            if fault.truncate_after is not None and sent >= fault.truncate_after:
                if on_cut is not None:
                    on_cut()
                return
            if fault.drop_after is not None and sent >= fault.drop_after:
                raise StreamDropped()
            if fault.error_after is not None and sent >= fault.error_after:
                if on_cut is not None:
                    on_cut()
                yield b"data: " + dumps({"error": fault.error or _default_stream_error()}) + b"\n\n"
                yield DONE
                return
        delay = _delay_before(timing, sent) if event is not DONE else 0.0
        if delay > 0:
            await asyncio.sleep(delay / 1000)
        yield event
        sent += 1


def _delay_before(timing: Timing, number: int) -> float:
    if timing.chunk_delays_ms is not None:
        return timing.chunk_delays_ms[number] if number < len(timing.chunk_delays_ms) else 0.0
    return timing.ttft_ms if number == 0 else timing.itl_ms


def _default_stream_error() -> dict[str, Any]:
    return {"message": "The model server failed while generating.", "type": "InternalServerError",
            "param": None, "code": 500}


class ChunkListener(Protocol):
    """Told each chunk of a stream as it goes out (the journal's ``Tap``)."""

    def chunk(self, body: bytes) -> None: ...


class EventStream(StreamingResponse):
    """A ``text/event-stream`` response of already framed events.

    A stream sends hundreds of messages, so what follows it is told here, in the loop that sends
    them, rather than by a wrapper of ``send`` called on every message: ``listener`` hears each
    chunk before it is handed to the server, and ``before_end`` is awaited before the last message
    (the journal entry: whoever has read the whole stream finds it). Events given as a plain
    iterable (a generator with nothing to wait for) are sent from it directly, each as it is made;
    Starlette would move such an iterable to a thread."""

    listener: ChunkListener | None = None
    before_end: Callable[[], Awaitable[None]] | None = None

    def __init__(self, events: AsyncIterable[bytes] | Iterable[bytes], headers: dict[str, str]):
        self.events = events  # read by stream_response only (Starlette's body_iterator is not set)
        self.status_code = 200
        self.media_type = "text/event-stream"
        self.background = None
        self.init_headers(headers)

    async def stream_response(self, send: Send) -> None:
        listener, before_end, events = self.listener, self.before_end, self.events
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        if isinstance(events, AsyncIterable):
            async for chunk in events:
                if listener is not None and chunk:  # a turn's stream may wait with an empty chunk
                    listener.chunk(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        else:
            for chunk in events:
                if listener is not None:
                    listener.chunk(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        if before_end is not None:
            await before_end()
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def event_stream(events: AsyncIterable[bytes] | Iterable[bytes],
                 headers: dict[str, str] | None = None) -> EventStream:
    """A ``text/event-stream`` response of already framed events."""
    return EventStream(events, {**SSE_HEADERS, **(headers or {})})
