"""uvicorn's options for one emulator: read timeouts and a cap on connections.

uvicorn has a cap (``limit_concurrency``: past it, a request is answered 503) and an idle
keep-alive timeout, but no limit on the time a client may take to send its request: a client
that sends a byte every few seconds, or a ``Content-Length`` it never sends, holds its connection
(and a file descriptor) forever, and a thousand of them leave nothing for anyone else. So the
HTTP protocol here is uvicorn's own with one deadline more: a request, headers and body, must
have arrived ``--read-timeout`` seconds after its connection opened (or after the last response
on a kept-alive connection), else it is answered 408 and the connection closed. One timer per
request, as uvicorn's keep-alive already arms: nothing is added to reading or answering. And a
response's head and body go out in one write (``one_write.py``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import TYPE_CHECKING, Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from .config import Settings
from .one_write import OneWrite
from .stack import fast_stack

log = logging.getLogger("emulator")

# File descriptors kept free of connections: the listening sockets, logs, uploads spooled to disk,
# --data-dir and --fixtures-dir files, a Redis connection pool.
FD_RESERVE = 64


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The keyword arguments of ``uvicorn.Config`` that ``serve`` and ``EmulatorServer`` share."""
    stack = fast_stack()
    protocol = _PROTOCOLS[stack["http"]]()
    cap = connection_cap(settings.max_connections)
    return {
        "loop": stack["loop"],
        # A partial of a module-level class: it pickles, for worker processes.
        "http": functools.partial(protocol, read_timeout=settings.read_timeout),
        # uvicorn counts the new connection too: the one past --max-connections gets 503.
        "limit_concurrency": cap + 1,
        "timeout_keep_alive": max(1, min(5, int(settings.read_timeout))),
    }


def connection_cap(wanted: int) -> int:
    """--max-connections, lowered below the process's file descriptor limit (``ulimit -n``) when it
    would not fit: past that limit the server could accept nothing, not even to answer 503."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):  # pragma: no cover - not on POSIX
        return max(1, wanted)
    if soft == resource.RLIM_INFINITY or wanted <= soft - FD_RESERVE:
        return max(1, wanted)
    lowered = max(1, soft - FD_RESERVE)
    log.warning("--max-connections %d does not fit the file descriptor limit (ulimit -n %d): serving at most "
                "%d connections", wanted, soft, lowered)
    return lowered


def _timeout_response(seconds: float) -> bytes:
    body = ('{"detail":"The request did not arrive within '
            f'{seconds:g} s (--read-timeout): the connection is closed."}}').encode()
    return (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n%s" % (len(body), body))


if TYPE_CHECKING:
    class _Served(asyncio.Protocol):
        """What the mixin below uses of the uvicorn protocol it is mixed into (for the checker only)."""

        transport: asyncio.Transport
        loop: asyncio.AbstractEventLoop
        cycle: Any  # the protocol's RequestResponseCycle: h11's and httptools' have the same fields

        def on_response_complete(self) -> None: ...
else:
    _Served = object


class _ReadDeadline(_Served):
    """Mixed into uvicorn's HTTP protocols (httptools and h11 share the attributes used here)."""

    def __init__(self, *args: Any, read_timeout: float, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._read_timeout = read_timeout
        self._deadline: asyncio.TimerHandle | None = None
        self._armed_for: Any = None  # the request cycle current when the deadline was set

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._armed_for = self.cycle
        self._deadline = self.loop.call_later(self._read_timeout, self._expire)

    def _expire(self) -> None:
        self._deadline = None
        transport, cycle = self.transport, self.cycle
        if transport.is_closing():
            return
        waiting_for_headers = cycle is None or (cycle is self._armed_for and cycle.response_complete)
        if not waiting_for_headers and not cycle.more_body:
            return  # the request has arrived: its answer may take as long as it takes
        if waiting_for_headers or not cycle.response_started:
            transport.write(_timeout_response(self._read_timeout))
        if cycle is not None:
            cycle.disconnected = True  # the handler still reading the body sees a client gone
            cycle.message_event.set()
        transport.close()


class GuardedH11Protocol(_ReadDeadline, OneWrite, H11Protocol):
    pass


def _httptools() -> type:
    return GuardedHttpToolsProtocol


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class GuardedHttpToolsProtocol(_ReadDeadline, OneWrite, HttpToolsProtocol):
        pass
except ImportError:  # pragma: no cover - httptools comes with uvicorn[standard]
    pass

_PROTOCOLS = {"h11": lambda: GuardedH11Protocol, "httptools": _httptools}
