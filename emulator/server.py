"""A real emulator on an ephemeral loopback port, in a background thread.

Used by the pytest plugin and by the emulator's own tests: the same uvicorn
stack as ``paradigm-emulator serve``, started in-process so that a test can reach
``server.emulator`` directly, and stopped cleanly.

``server.emulator`` is the app's ``Emulator`` seen from the test's thread: its services are async
(their state is on the backend), so every coroutine method called through it runs on the server's
own event loop and is waited for — ``server.emulator.scripts.add({...})`` just works.
"""

from __future__ import annotations

import asyncio
import inspect
import socket
import threading
from typing import Any

import uvicorn

from .app import create_app
from .config import Settings
from .connections import uvicorn_options
from .stack import base_urls, bound_port, fast_stack

START_TIMEOUT_S = 10.0


class EmulatorServer:
    def __init__(self, settings: Settings | None = None):
        self.settings = (settings or Settings()).replace(port=0)
        self.app = create_app(self.settings)
        # The app's Emulator, each service's coroutine methods run on the server's loop (``OnLoop``).
        self.emulator = OnLoop(self.app.state.emulator, self)
        self._loop: asyncio.AbstractEventLoop | None = None
        config = uvicorn.Config(self.app, host=self.settings.host, port=0, log_level=self.settings.log_level,
                                access_log=False, lifespan="off", **uvicorn_options(self.settings))
        self._server = uvicorn.Server(config)
        # uvicorn listens to signals only from the main thread, and this server runs in another.
        self._thread: threading.Thread | None = None
        self.port = 0

    def start(self) -> EmulatorServer:
        ready = threading.Event()
        original_startup = self._server.startup

        async def startup(sockets: list[socket.socket] | None = None) -> None:
            self._loop = asyncio.get_running_loop()
            await original_startup(sockets=sockets)
            self.port = bound_port(self._server, self.port)
            ready.set()

        self._server.startup = startup  # type: ignore[method-assign]  # wrapped: learns the loop and port
        self._thread = threading.Thread(target=self._run, name="paradigm-emulator", daemon=True)
        self._thread.start()
        if not ready.wait(START_TIMEOUT_S) or not self.port:
            self.stop()
            raise RuntimeError(f"the emulator did not start within {START_TIMEOUT_S:.0f} s")
        return self

    def _run(self) -> None:
        async def serve() -> None:
            try:
                await self._server.serve()
            finally:  # lifespan is off: the backend's connections are closed here, on their loop
                if self.app.state.emulator.upstream is not None:
                    await self.app.state.emulator.upstream.close()
                await self.app.state.emulator.state.close()

        loop_name = fast_stack()["loop"]
        if loop_name == "uvloop":
            import uvloop

            uvloop.run(serve())
        else:
            asyncio.run(serve())

    def run(self, coroutine: Any, timeout: float = 30.0) -> Any:
        """Run a coroutine on the server's event loop and wait for its result (from another thread)."""
        loop = self.serving_loop()
        if loop is None:
            return asyncio.run(coroutine)  # not serving: nothing else uses the state now
        if threading.current_thread() is self._thread:
            coroutine.close()
            raise RuntimeError("server.emulator is the test thread's view: on the server's loop, await "
                               "the app's emulator (request.app.state.emulator) instead")
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout)

    def serving_loop(self) -> asyncio.AbstractEventLoop | None:
        """The event loop the server answers on while it serves; None before start and after stop."""
        if self._loop is None or self._thread is None or not self._thread.is_alive():
            return None
        return self._loop

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=START_TIMEOUT_S)

    @property
    def base_url(self) -> str:
        return f"http://{self.settings.host}:{self.port}"

    @property
    def v2(self) -> str:
        return base_urls(self.settings.host, self.port)["v2"]

    @property
    def v3(self) -> str:
        return base_urls(self.settings.host, self.port)["v3"]

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


class OnLoop:
    """A service of the emulator as the test thread sees it: coroutine methods run on the server's
    loop and return their result; services met on the way (``emulator.scripts``) are wrapped alike;
    everything else (settings, plain methods, attributes to set) passes through."""

    def __init__(self, target: Any, server: EmulatorServer):
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_server", server)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if inspect.ismethod(value) or inspect.isfunction(value):
            return self._bridged(value)
        if _is_service(value):
            return OnLoop(value, self._server)
        return value

    def _bridged(self, method: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            result = method(*args, **kwargs)
            if inspect.iscoroutine(result):
                return self._server.run(result)
            if inspect.isasyncgen(result):
                return self._server.run(_collect(result))
            return result

        call.__name__ = getattr(method, "__name__", "call")
        call.__doc__ = method.__doc__
        return call

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._target, name, value)

    def __len__(self) -> int:
        return len(self._target)

    def __repr__(self) -> str:
        return f"<{self._target!r} on the server's loop>"


def _is_service(value: Any) -> bool:
    """An object of the package with coroutine methods (not a value such as Settings or an Entry)."""
    kind = type(value)
    if not kind.__module__.startswith("emulator."):
        return False
    return any(inspect.iscoroutinefunction(getattr(kind, name, None))
               for name in dir(kind) if not name.startswith("__"))


async def _collect(generator: Any) -> list[Any]:
    return [item async for item in generator]
