"""The test handle's control calls to an emulator in this process: the app called on its own loop.

A handle on an ``EmulatorServer`` (the plugin's session server) makes a few control calls in every
test: the reset, each rule, the journal. Through the socket, each one costs an HTTP request built and
parsed on both sides, and on a session server both sides are this process, one GIL. Here the same
request is handed to the same ASGI application (the Host and Origin guard, the routes, the admin
token and test-space checks all included) as a coroutine on the server's event loop, which is where
uvicorn would have run it: what the control API answers is the same, at a fraction of the cost.
Only the emulator's own model-call routes are left to the socket, as a test's client sends them.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Protocol
from urllib.parse import unquote, urlencode, urlsplit

from .control import ControlResponse, _dumps

Message = dict[str, Any]
Receive = Callable[[], Coroutine[Any, Any, Message]]
Send = Callable[[Message], Coroutine[Any, Any, None]]
App = Callable[[dict[str, Any], Receive, Send], Coroutine[Any, Any, None]]
_CLIENT = ("127.0.0.1", 0)  # what uvicorn would see of a loopback client (the port is never read)


class LocalServer(Protocol):
    """What this client needs of an ``EmulatorServer``: its app, and its loop while it serves."""

    @property
    def app(self) -> Any: ...

    @property
    def base_url(self) -> str: ...

    def serving_loop(self) -> asyncio.AbstractEventLoop | None: ...


class LocalControlClient:
    """``ControlClient``'s interface over an in-process server's ASGI app (``request``, ``close``)."""

    def __init__(self, server: LocalServer, headers: dict[str, str], timeout_s: float):
        parts = urlsplit(server.base_url)
        self._server = server
        self._app: App = server.app
        self._address = (parts.hostname or "127.0.0.1", parts.port or 80)
        sent = {"Host": parts.netloc, "Accept": "application/json", **headers}
        self._headers = [(name.lower().encode("latin-1"), value.encode("latin-1"))
                         for name, value in sent.items()]
        self._timeout = timeout_s

    def request(self, method: str, path: str, *, json: Any = None,
                params: dict[str, Any] | None = None) -> ControlResponse:
        """One call; an OSError (ConnectionRefusedError, TimeoutError) when the server is not serving
        or does not answer in time, as the socket would give."""
        loop = self._server.serving_loop()
        if loop is None:
            raise ConnectionRefusedError(f"the emulator at {self._server.base_url} is not serving")
        if _running_loop() is loop:  # waiting here would stop the loop that is to answer
            raise ConnectionRefusedError("a control call from the server's own event loop cannot be answered")
        body = b"" if json is None else _dumps(json)
        headers = [*self._headers, (b"content-length", str(len(body)).encode())]
        if json is not None:
            headers.append((b"content-type", b"application/json"))
        query = urlencode(params).encode() if params else b""
        scope = {
            "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
            "server": self._address, "client": _CLIENT, "scheme": "http", "root_path": "",
            "method": method, "path": unquote(path), "raw_path": path.encode(), "query_string": query,
            "headers": headers, "state": {},
        }
        status, content = self._answer(loop, scope, body)
        return ControlResponse(status, content, method, path)

    def _answer(self, loop: asyncio.AbstractEventLoop, scope: dict[str, Any],
                body: bytes) -> tuple[int, bytes]:
        """The exchange run as a task on ``loop``, this thread waiting on a bare lock for it: a
        control call costs the two thread switches and little more (``run_coroutine_threadsafe``'s
        future, condition and chained callbacks cost as much again, three times a test)."""
        finished = threading.Lock()
        finished.acquire()
        started: list[asyncio.Task[tuple[int, bytes]]] = []
        done: list[asyncio.Task[tuple[int, bytes]]] = []

        def over(task: asyncio.Task[tuple[int, bytes]]) -> None:
            done.append(task)
            finished.release()

        def cancel() -> None:
            for task in started:
                task.cancel()

        def start() -> None:
            task = loop.create_task(self._exchange(scope, body))
            task.add_done_callback(over)
            started.append(task)

        try:
            loop.call_soon_threadsafe(start)
        except RuntimeError as exc:  # the loop closed in between
            raise ConnectionRefusedError(str(exc)) from None
        if not finished.acquire(timeout=self._timeout):
            loop.call_soon_threadsafe(cancel)
            raise TimeoutError(f"the emulator at {self._server.base_url} did not answer "
                               f"{scope['method']} {scope['path']} in {self._timeout} s")
        if done[0].cancelled():  # the server stopped with the call under way
            raise ConnectionRefusedError(f"the emulator at {self._server.base_url} stopped before it "
                                         f"answered {scope['method']} {scope['path']}")
        return done[0].result()

    async def _exchange(self, scope: dict[str, Any], body: bytes) -> tuple[int, bytes]:
        """The app's answer to one request: its status and whole body."""
        answered = asyncio.Event()
        sent = False
        status, chunks = 500, []

        async def receive() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await answered.wait()  # a streamed answer listens for the client going away
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    answered.set()

        try:
            await self._app(scope, receive, send)
        except Exception:  # the app failed: what it sent stands, as uvicorn would leave it
            if not answered.is_set() and not chunks:
                return 500, b"Internal Server Error"
        return status, b"".join(chunks)

    def close(self) -> None:
        """Nothing is held between calls."""


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
