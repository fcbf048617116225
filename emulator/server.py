"""A real emulator on an ephemeral loopback port, in a background thread.

Used by the pytest plugin and by the emulator's own tests: the same uvicorn
stack as ``paradigm-emulator serve``, started in-process so that a test can reach
``server.emulator`` directly, and stopped cleanly.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import uvicorn

from .app import Emulator, create_app
from .connections import uvicorn_options
from .config import Settings
from .stack import base_urls, fast_stack

START_TIMEOUT_S = 10.0


class EmulatorServer:
    def __init__(self, settings: Settings | None = None):
        self.settings = (settings or Settings()).replace(port=0)
        self.app = create_app(self.settings)
        self.emulator: Emulator = self.app.state.emulator
        config = uvicorn.Config(self.app, host=self.settings.host, port=0, log_level=self.settings.log_level,
                                access_log=False, lifespan="off", **uvicorn_options(self.settings))
        self._server = uvicorn.Server(config)
        self._server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # not the main thread
        self._thread: threading.Thread | None = None
        self.port = 0

    def start(self) -> "EmulatorServer":
        ready = threading.Event()
        original_startup = self._server.startup

        async def startup(sockets=None) -> None:
            await original_startup(sockets=sockets)
            for server in getattr(self._server, "servers", []):
                for sock in server.sockets:
                    self.port = sock.getsockname()[1]
            ready.set()

        self._server.startup = startup  # type: ignore[method-assign]
        self._thread = threading.Thread(target=self._run, name="paradigm-emulator", daemon=True)
        self._thread.start()
        if not ready.wait(START_TIMEOUT_S) or not self.port:
            self.stop()
            raise RuntimeError("the emulator did not start within %.0f s" % START_TIMEOUT_S)
        return self

    def _run(self) -> None:
        loop_name = fast_stack()["loop"]
        if loop_name == "uvloop":
            import uvloop

            uvloop.run(self._server.serve())
        else:
            asyncio.run(self._server.serve())

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

    def __enter__(self) -> "EmulatorServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
