"""The upstream as an answer source: a request no fixture matched, forwarded to a real Paradigm.

``Upstream.answer(call)`` sends the call to the same path on ``--upstream`` (its own Authorization,
or ``--upstream-key``), and relays the answer as it arrives: status, body and headers, an SSE stream
chunk by chunk. An upstream that cannot be reached is a 502, one that does not answer in
``--upstream-timeout`` a 504, each a DRF ``{"detail": ...}`` naming the upstream and the flag. One that
closes a stream half way cuts the client's stream at the same byte. A client that goes away closes
the upstream request. With ``--record`` every finished exchange goes to the ``Recorder``.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
from starlette.responses import Response, StreamingResponse

from ..call import Call, json_response
from ..config import Settings
from ..sse import StreamDropped
from .recorder import Exchange, Recorder, split_events

log = logging.getLogger("emulator.upstream")
# Headers that belong to one hop, or that the emulator sets itself: never forwarded either way.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "accept-encoding",
        "content-encoding",
        "date",
        "server",
    }
)
BUFFERED_UP_TO = 1024 * 1024  # a non-streamed answer of known size up to this is read whole, then sent


def settings_problem(settings: Settings) -> str | None:
    """What is wrong with the upstream flags, or None (the CLI exits 2 with it)."""
    if settings.upstream is None:
        if settings.record is not None:
            return "--record needs --upstream URL: only forwarded exchanges are recorded"
        return None
    url = httpx.URL(settings.upstream) if "://" in settings.upstream else None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        return (
            f"--upstream must be an http(s) URL such as https://paradigm.lighton.ai, "
            f"got {settings.upstream!r}"
        )
    if settings.upstream_timeout <= 0:
        return f"--upstream-timeout must be more than 0 seconds, got {settings.upstream_timeout:g}"
    if settings.record is not None:
        from .recorder import folder_problem

        return folder_problem(settings.record)
    return None


class Upstream:
    """``emulator.upstream``: forwards calls to ``--upstream`` (see the module docstring)."""

    def __init__(self, settings: Settings, recorder: Recorder | None = None):
        assert settings.upstream is not None
        self.root = settings.upstream.rstrip("/")
        self.key = settings.upstream_key
        self.timeout = settings.upstream_timeout
        self.recorder = recorder
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        """Made on first use, in the event loop that serves (a worker's own)."""
        if self._client is None:
            # TCP_NODELAY: the request's head and body go out as two writes, which Nagle's algorithm
            # would hold until the first is acknowledged.
            transport = httpx.AsyncHTTPTransport(
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=64),
                socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
            )
            self._client = httpx.AsyncClient(
                base_url=self.root, timeout=httpx.Timeout(self.timeout), trust_env=False, transport=transport
            )
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def answer(self, call: Call) -> Response:
        call.source = "upstream"
        request = call.request
        try:
            outgoing = self.client.build_request(
                request.method,
                request.url.path,
                params=request.url.query or None,
                headers=self._headers(call),
                **self._body(call),
            )
            started = time.perf_counter()
            upstream = await self.client.send(outgoing, stream=True)
        except httpx.TimeoutException:
            return self._failed(504, f"did not answer within {self.timeout:g} s (--upstream-timeout)")
        except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
            return self._failed(502, f"cannot be reached: {type(exc).__name__}: {exc or 'no answer'}")
        headers = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP}
        content_type = upstream.headers.get("content-type", "")
        size = upstream.headers.get("content-length")
        streamed = "text/event-stream" in content_type or size is None or int(size) > BUFFERED_UP_TO
        if not streamed:
            try:
                body = await upstream.aread()
            except httpx.HTTPError:
                body, streamed = b"", True  # cut before its end: relayed as a cut below
            else:
                await upstream.aclose()
                self._record(call, upstream.status_code, headers, body=body)
                return Response(body, status_code=upstream.status_code, headers=headers)
        return StreamingResponse(
            self._relay(call, upstream, headers, started), status_code=upstream.status_code, headers=headers
        )

    async def _relay(
        self, call: Call, upstream: httpx.Response, headers: dict[str, str], started: float
    ) -> AsyncIterator[bytes]:
        """The upstream's body chunk by chunk as it arrives; kept (with each chunk's arrival) for the
        recording. A cut upstream cuts the client; a client gone closes the upstream."""
        chunks: list[tuple[bytes, float]] = []
        finished = False
        try:
            async for chunk in upstream.aiter_raw():
                chunks.append((chunk, (time.perf_counter() - started) * 1000))
                yield chunk
            finished = True
        except httpx.HTTPError as exc:  # closed half way, or no next chunk within the timeout
            log.info("upstream %s %s cut its answer: %s", call.request.method, call.request.url.path, exc)
            self._record(call, upstream.status_code, headers, chunks=chunks, cut=True)
            raise StreamDropped() from None
        finally:
            with anyio.CancelScope(shield=True):  # also when the client went away (a cancelled stream)
                await upstream.aclose()
        if finished:
            self._record(call, upstream.status_code, headers, chunks=chunks)

    def _record(
        self,
        call: Call,
        status: int,
        headers: dict[str, str],
        body: bytes | None = None,
        chunks: list[tuple[bytes, float]] | None = None,
        cut: bool = False,
    ) -> None:
        if self.recorder is None:
            return
        events = (
            split_events(chunks)
            if chunks is not None and "text/event-stream" in headers.get("content-type", "")
            else None
        )
        if body is None and events is None:
            body = b"".join(chunk for chunk, _ in chunks or ())
        exchange = Exchange(status=status, headers=headers, body=body, events=events, cut=cut)
        try:
            self.recorder.add(call, exchange, secrets=self._secrets(call))
        except OSError as exc:  # a full disk must not break the answer itself
            log.error("could not record %s %s: %s", call.request.method, call.request.url.path, exc)

    def _secrets(self, call: Call) -> list[str]:
        found = [self.key] if self.key else []
        _, _, client_key = call.request.headers.get("authorization", "").partition(" ")
        return [*found, client_key.strip()] if client_key.strip() else found

    def _headers(self, call: Call) -> list[tuple[str, str]]:
        headers = [
            (k, v)
            for k, v in call.request.headers.items()
            if k not in HOP_BY_HOP
            and not k.startswith("x-emulator-")
            and not (k == "content-type" and call.uploads is not None and _is_form(call))
        ]
        headers.append(("accept-encoding", "identity"))  # a recording a person can read: no gzip
        if self.key:
            headers = [(k, v) for k, v in headers if k != "authorization"]
            headers.append(("authorization", f"Bearer {self.key}"))
        return headers

    def _body(self, call: Call) -> dict[str, Any]:
        """The body as received: the JSON (or other) bytes as they came; a form rebuilt from its parsed
        fields and files (the parser has consumed the original), with their names and contents."""
        if not _is_form(call):
            return {"content": call.raw_body} if call.raw_body else {}
        data: dict[str, Any] = {
            k: _form_value(v) for k, v in (call.body or {}).items() if k not in call.uploads
        }
        if call.content_type.startswith("application/x-www-form-urlencoded") and not call.uploads:
            return {"data": data}
        files = {}
        for name, upload in call.uploads.items():
            upload.file.seek(0)
            files[name] = (
                upload.filename or name,
                upload.file.read(),
                upload.content_type or "application/octet-stream",
            )
        return {"data": data, "files": files}

    def _failed(self, status: int, what: str) -> Response:
        return json_response({"detail": f"The upstream {self.root} (--upstream) {what}."}, status)


def _is_form(call: Call) -> bool:
    return call.content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded"))


def _form_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return [_form_value(v) for v in value]
    if isinstance(value, dict):
        return json.dumps(value)
    return "" if value is None else str(value)


def build_upstream(settings: Settings) -> Upstream | None:
    """The upstream of ``--upstream`` (with its recorder for ``--record``), or None; a StartupError
    says what is wrong with the flags."""
    from ..errors import StartupError

    problem = settings_problem(settings)
    if problem is not None:
        raise StartupError(problem)
    if settings.upstream is None:
        return None
    recorder = None
    if settings.record is not None:
        recorder = Recorder(settings.record, ignore=settings.record_ignore, redact=settings.record_redact)
    return Upstream(settings, recorder)
