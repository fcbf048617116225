"""Per-request control headers: force a behaviour for one call without writing a fixture.

    X-Emulator-Status: 429          answer with this HTTP error (400-599), before anything else
    X-Emulator-Body: {...}          ... with this JSON body (plain text: the message of the default body)
    X-Emulator-Retry-After: 0.05    ... with Retry-After (seconds) and retry-after-ms headers
    X-Emulator-Delay-Ms: 250        wait this long before answering (any operation)
    X-Emulator-Ttft-Ms / -Itl-Ms    time to first token / between tokens (chat, completions)
    X-Emulator-Truncate-After: N    end the stream cleanly after N SSE events (no finish, no [DONE])
    X-Emulator-Error-After: N       after N events send data: {"error": {...}} then [DONE]
    X-Emulator-Drop-After: N        close the connection after N events (not streamed: at once)

Headers are read in one pass over the raw header list, and only when one starts with
``x-emulator-``, so a request without them pays nothing. A misspelt or malformed control
header is a 400 naming it: a control that silently does nothing makes a test pass for the
wrong reason.

Also here, because fixtures and headers share them: the default error bodies (DRF's
``{"detail"}`` for the API layer's statuses, vLLM's ``{"error": {...}}`` for the model
server's) and the response that drops its connection.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from http import HTTPStatus
from typing import Any

from starlette.responses import Response, StreamingResponse

from .answer import Answer, StreamFault
from .call import Call, Controls, json_response
from .errors import ApiError
from .sse import StreamDropped

PREFIX = b"x-emulator-"
# Statuses the API layer (Django REST Framework) answers itself; the rest come from the model server.
DRF_DETAILS = {
    401: "Invalid token.",
    403: "You do not have permission to perform this action.",
    405: "Method not allowed.",
    406: "Could not satisfy the request Accept header.",
    413: "Request entity too large.",
    415: "Unsupported media type in request.",
    429: "Request was throttled.",
}


class ControlHeaderError(ApiError):
    status = 400


MAX_WAIT = 600_000.0  # ten minutes: a longer wait is a typo, and would hold the request forever


def _number(name: str, text: str, integer: bool = False) -> Any:
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        value = None
    if value is None or not 0 <= value <= (float("inf") if integer else MAX_WAIT):
        kind = "a whole number >= 0" if integer else f"a number from 0 to {MAX_WAIT:g}"
        raise ControlHeaderError(f"X-Emulator-{name}: expected {kind}, got {text!r}.")
    return value


def _status(text: str) -> int:
    if not text.strip().isdigit() or not 400 <= int(text) <= 599:
        raise ControlHeaderError(
            f"X-Emulator-Status: expected an HTTP error status from 400 to 599, got {text!r}.")
    return int(text)


def _body(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text  # plain text: the message of the default body


_READERS = {
    "status": ("status", _status),
    "body": ("body", _body),
    "retry-after": ("retry_after", lambda t: _number("Retry-After", t)),
    "delay-ms": ("delay_ms", lambda t: _number("Delay-Ms", t)),
    "ttft-ms": ("ttft_ms", lambda t: _number("Ttft-Ms", t)),
    "itl-ms": ("itl_ms", lambda t: _number("Itl-Ms", t)),
    "truncate-after": ("truncate_after", lambda t: _number("Truncate-After", t, integer=True)),
    "error-after": ("error_after", lambda t: _number("Error-After", t, integer=True)),
    "drop-after": ("drop_after", lambda t: _number("Drop-After", t, integer=True)),
}
KNOWN = ", ".join("X-Emulator-" + "-".join(p.capitalize() for p in name.split("-")) for name in _READERS)


def read_controls(raw_headers: list[tuple[bytes, bytes]]) -> Controls | None:
    found: dict[str, Any] = {}
    for name, value in raw_headers:
        name = name.lower()
        if not name.startswith(PREFIX) or name == b"x-emulator-admin-token":
            continue
        key = name[len(PREFIX):].decode("latin-1")
        reader = _READERS.get(key)
        if reader is None:
            shown = "-".join(part.capitalize() for part in key.split("-"))
            raise ControlHeaderError(f"Unknown control header X-Emulator-{shown}; known: {KNOWN}.")
        field, parse = reader
        found[field] = parse(value.decode("latin-1").strip())
    if not found:
        return None
    if ("body" in found or "retry_after" in found) and "status" not in found:
        raise ControlHeaderError("X-Emulator-Body and X-Emulator-Retry-After go with X-Emulator-Status.")
    faults = [f for f in ("truncate_after", "error_after", "drop_after") if f in found]
    if len(faults) > 1:
        raise ControlHeaderError("Give only one of X-Emulator-Truncate-After, -Error-After, -Drop-After.")
    return Controls(**found)


class HeaderControls:
    """``before`` runs for every operation (the controls stage), ``apply`` on each chat or completions
    answer (the delivery step)."""

    async def before(self, call: Call) -> Response | None:
        controls = read_controls(call.request.headers.raw)
        if controls is None:
            return None
        call.controls = controls  # for `apply`, and the memo (a controlled answer is not kept)
        if controls.delay_ms > 0:
            await asyncio.sleep(controls.delay_ms / 1000)
        if controls.status is None:
            return None
        headers = retry_headers(controls.retry_after) if controls.retry_after is not None else {}
        body = controls.body
        if body is None or isinstance(body, str):
            body = default_error_body(controls.status, call.route.answering, body, controls.retry_after)
        return json_response(body, controls.status, headers)

    def apply(self, call: Call, answer: Answer) -> Answer | Response:
        controls = call.controls
        if controls is None:
            return answer
        timing = answer.timing
        if controls.ttft_ms is not None or controls.itl_ms is not None:
            timing = replace(timing, chunk_delays_ms=None,
                             ttft_ms=timing.ttft_ms if controls.ttft_ms is None else controls.ttft_ms,
                             itl_ms=timing.itl_ms if controls.itl_ms is None else controls.itl_ms)
        fault = answer.fault
        if controls.truncate_after is not None:
            fault = StreamFault(truncate_after=controls.truncate_after)
        elif controls.error_after is not None:
            fault = StreamFault(error_after=controls.error_after)
        elif controls.drop_after is not None:
            if not (isinstance(call.body, dict) and call.body.get("stream")):
                return dropped_response()
            fault = StreamFault(drop_after=controls.drop_after)
        return replace(answer, timing=timing, fault=fault)


def retry_headers(seconds: float) -> dict[str, str]:
    """Retry-After in seconds (as DRF's throttling sends it) and retry-after-ms, which the OpenAI SDK
    reads first, so that a sub-second wait stays sub-second."""
    shown = str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"
    return {"Retry-After": shown, "retry-after-ms": f"{seconds * 1000:g}"}


def default_error_body(status: int, answering: bool, message: str | None = None,
                       retry_after: float | None = None) -> dict[str, Any]:
    """The body the real stack would send with this status: DRF's for the API layer's statuses (and
    for every status of an operation that is not a model call), vLLM's nested error otherwise."""
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    if not answering or status in DRF_DETAILS:
        detail = message or DRF_DETAILS.get(status) or f"{phrase}."
        if status == 429 and message is None and retry_after is not None:
            wait = max(int(-(-retry_after // 1)), 1)
            detail += f" Expected available in {wait} second{'s' if wait != 1 else ''}."
        return {"detail": detail}
    kind = phrase.replace(" ", "").replace("-", "")
    kind = kind if kind.endswith("Error") else kind + "Error"
    return {"error": {"message": message or f"{phrase}.", "type": kind, "param": None, "code": status}}


async def _drop() -> AsyncIterator[bytes]:
    raise StreamDropped()
    yield b""  # pragma: no cover - makes this an async generator


def dropped_response() -> Response:
    """A response whose connection closes before any body byte: the client sees a broken response."""
    return StreamingResponse(_drop(), media_type="application/json")


class _DroppedStreamFilter(logging.Filter):
    """A scripted dropped connection is the emulator doing its job: no traceback in the server log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and _is_drop(record.exc_info[1]))


def _is_drop(exc: BaseException | None) -> bool:
    if isinstance(exc, StreamDropped):
        return True
    inner = getattr(exc, "exceptions", None)  # an ExceptionGroup from a task group
    return bool(inner) and all(_is_drop(e) for e in inner or ())


def quiet_dropped_streams() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _DroppedStreamFilter) for f in logger.filters):
        logger.addFilter(_DroppedStreamFilter())
