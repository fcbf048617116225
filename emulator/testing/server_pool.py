"""The session's emulators for the pytest plugin: one per distinct settings, or the shared one.

``ServerPool.get(settings)`` starts an ``EmulatorServer`` on first use and keeps it for the session
(one per xdist worker); ``remote(url)`` checks an emulator that already runs (``--paradigm-url``)
once. On a shared emulator each session calls with a key of its own (``session_key``), so its test
space is its own, and what it scripted there is cleared when the session ends.
Imports pytest (a dependency of the package, as the plugin is part of it).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from .markers import refuse

if TYPE_CHECKING:
    from ..server import EmulatorServer
    from .servers import RemoteServer

URL_ENV = "PARADIGM_EMULATOR_URL"
# The key(s) a session uses on a shared emulator (comma-separated: xdist worker N takes the Nth);
# by default each session and each worker makes up a key of its own, so its space is its own.
KEY_ENV = "PARADIGM_EMULATOR_API_KEY"


class ServerPool:
    """One running emulator per distinct settings, for the whole session."""

    def __init__(self) -> None:
        self._servers: dict[tuple, EmulatorServer | RemoteServer] = {}
        self._failures: dict[tuple, str] = {}
        self._space_keys: dict[str, str] = {}  # remote URL -> this session's key there

    def space_key(self, url: str) -> str:
        """This session's (and xdist worker's) own key on the emulator at ``url``."""
        key = self._space_keys.get(url)
        if key is None:
            key = self._space_keys[url] = session_key(os.environ.get(KEY_ENV, ""),
                                                      os.environ.get("PYTEST_XDIST_WORKER", ""))
        return key

    def get(self, overrides: dict[str, Any]) -> EmulatorServer | RemoteServer:
        key = tuple(sorted((name, repr(value)) for name, value in overrides.items()))
        if key in self._failures:  # do not pay for the same failed start-up in every test
            refuse(self._failures[key])
        server = self._servers.get(key)
        if server is None:
            from ..config import Settings
            from ..server import EmulatorServer

            try:
                server = EmulatorServer(Settings(**overrides)).start()
            except Exception as exc:
                shown = ", ".join(f"{k}={v!r}" for k, v in overrides.items()) or "default settings"
                self._failures[key] = f"the Paradigm emulator could not start ({shown}): {exc}"
                refuse(self._failures[key])
            self._servers[key] = server
        return server

    def remote(self, url: str) -> EmulatorServer | RemoteServer:
        """The emulator at ``url`` (--paradigm-url), checked once: a wrong URL fails every test that
        uses it with one clear message, not with a connection error per request."""
        key = ("remote", url)
        if key in self._failures:
            refuse(self._failures[key])
        server = self._servers.get(key)
        if server is None:
            import httpx

            from .servers import RemoteServer

            try:
                server = RemoteServer(url)
                health = httpx.get(server.base_url + "/_emulator/health", timeout=10, trust_env=False)
                health.raise_for_status()
            except (ValueError, httpx.HTTPError) as exc:
                self._failures[key] = (f"the Paradigm emulator at {url} (--paradigm-url / {URL_ENV}) "
                                       f"is not usable: {exc}")
                refuse(self._failures[key])
            self._servers[key] = server
        return server

    def stop_all(self) -> None:
        from .handle import ParadigmEmulator
        from .pools import close_control_clients

        for url, key in self._space_keys.items():  # what this session scripted on a shared emulator goes
            server = self._servers.get(("remote", url))
            if server is not None:
                try:
                    ParadigmEmulator(server, api_key=key, space=True).reset()
                except Exception:  # the emulator went away first: nothing is left there to clear
                    pass
        close_control_clients()
        servers, self._servers = list(self._servers.values()), {}
        for server in servers:
            stop = getattr(server, "stop", None)  # a remote emulator is not ours to stop
            if stop is not None:
                stop()


def session_key(configured: str, worker: str) -> str:
    """``PARADIGM_EMULATOR_API_KEY`` (the Nth of a comma-separated list for xdist worker gwN), else
    a key made up for this session: on an emulator without --users every key is its own space."""
    keys = [k.strip() for k in configured.split(",") if k.strip()]
    if keys:
        number = int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0
        return keys[number % len(keys)]
    import uuid

    return f"paradigm-session-{uuid.uuid4().hex}"
