"""A response's head and body in one socket write.

uvicorn writes a response's status line and headers as soon as the application sends them, and its
body as a second write: two system calls per response, and on loopback each one also runs the
receiving side's TCP path. Profiled under load, that write was a third to a half of the server's
samples for small and 20 KB bodies alike (``bench/profile.py``: ``RequestResponseCycle.send``). Here
the head is held until the next write, which a plain response makes in the same step of the event
loop, and both go in one write; a head whose body does not follow at once (a stream waiting
for its first token) goes out on the loop's next turn, alone, as before. The bytes sent, and their
order, are the same.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

_HEAD = b"HTTP/"  # how uvicorn's response heads begin (h11's and httptools' alike)
_JOINED_BELOW = 256 * 1024  # a bigger body is not copied to join it: its write dwarfs the head's


class OneWriteTransport:
    """The connection's transport, holding a response head until what follows it is written.

    Only a response's first write is looked at: once its head has gone out, ``write`` is the
    socket transport's own until the protocol says the response is complete (``next_response``),
    so a stream's chunks reach the socket with no step of this class between."""

    __slots__ = ("_transport", "_loop", "_held", "write")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop):
        self._transport, self._loop = transport, loop
        self._held: bytes | None = None
        self.write: Callable[[bytes], None] = self._holding

    def next_response(self) -> None:
        """The response is complete: the next one's head is held again."""
        self.write = self._holding

    def _holding(self, data: bytes) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self.write = self._transport.write  # the rest of this response: straight to the socket
            if len(data) <= _JOINED_BELOW:
                self._transport.write(held + data)
                return
            self._transport.write(held)
            self._transport.write(data)
        elif data.startswith(_HEAD):
            self._held = data
            self._loop.call_soon(self.flush)
        else:
            self._transport.write(data)

    def writelines(self, pieces: Any) -> None:
        self.flush()
        self._transport.writelines(pieces)

    def flush(self) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self.write = self._transport.write
            if not self._transport.is_closing():  # a client gone meanwhile: nothing to write to
                self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def __getattr__(self, name: str) -> Any:  # the rest of the transport, as it is
        return getattr(self._transport, name)


if TYPE_CHECKING:
    class _Served(asyncio.Protocol):
        transport: Any

        def connection_made(self, transport: Any) -> None: ...

        def on_response_complete(self) -> None: ...
else:
    _Served = object


class OneWrite(_Served):
    """Mixed into uvicorn's HTTP protocols: the protocol and its request cycles see the holding
    transport in place of the socket's."""

    def connection_made(self, transport: Any) -> None:
        super().connection_made(OneWriteTransport(transport, asyncio.get_running_loop()))

    def on_response_complete(self) -> None:
        transport = self.transport
        if isinstance(transport, OneWriteTransport):  # before the next pipelined response starts
            transport.next_response()
        super().on_response_complete()
