"""``ParadigmEmulator``: what a test holds: the URLs, scripted answers, and the requests made.

The pytest plugin gives one per test (``paradigm_emulator``) over a server that lives for the
whole session; ``reset()`` is what makes the server new again between tests. Nothing here needs
pytest, so a unittest suite can use it too::

    with EmulatorServer() as server:
        emu = ParadigmEmulator(server)
        emu.on_chat(contains="weather").reply("Sunny")
        ...
        emu.assert_called("chat", model="alfred-4.2")

The handle talks to the emulator only through its control API (``/_emulator``: the rules it builds
are that API's fixture dicts; over HTTP, or for a server in this process its app called on its own
loop, ``local_control``), so it works the same on an emulator that runs elsewhere:
``ParadigmEmulator(RemoteServer("http://ci-emulator:8000"))`` (the plugin's ``--paradigm-url``).
Its parts: ``scripting`` (rules and fixtures), ``asked`` (the journal and the assertions),
``servers``, ``calls``, ``pools`` (the connections a process keeps).
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from .asked import Asked
from .calls import ControlError
from .pools import _PLAIN_HTTP, CLIENT_TIMEOUT_S, close_control_clients, control_client, shared_http
from .requests import RequestLog
from .scripting import Scripting
from .servers import RemoteServer, Server

if TYPE_CHECKING:  # imported where they are used, so that importing the handle stays cheap
    import openai

    from ..config import Settings

__all__ = ["ControlError", "ParadigmEmulator", "RemoteServer", "Server", "close_control_clients"]

DEFAULT_API_KEY = "paradigm-test-key"


class ParadigmEmulator(Scripting, Asked):
    """One test's view of a running emulator (``server``: an ``EmulatorServer`` or a ``RemoteServer``)."""

    def __init__(self, server: Server, api_key: str | None = None, space: bool = False):
        self.server = server
        self.api_key = api_key or next(iter(server.settings.api_keys), DEFAULT_API_KEY)
        # space=True: every control call addresses this key's test space only (its fixtures, journal,
        # limits and reset), so that other suites can share the emulator (docs/team.md).
        self.space = space
        self._control = control_client(server, self.api_key if space else None)
        self._journal = []  # this test's, oldest first (read since the last seq)
        self._log = RequestLog(self._entries)
        self._scripted = []  # in the order they were added: matching order
        self._numbers = itertools.count(1)
        self._clients: list[openai.OpenAI] = []

    # -- where it is -------------------------------------------------------------------------------

    @property
    def emulator(self) -> Any:
        """The in-process emulator behind a session server (``EmulatorServer.emulator``), for what the
        control API does not show; a running emulator elsewhere (--paradigm-url) has none."""
        inside = getattr(self.server, "emulator", None)
        if inside is None:
            raise AttributeError(
                f"the emulator at {self.server.base_url} runs elsewhere: use the control API"
            )
        return inside

    @property
    def base_url(self) -> str:
        """The v2 API base URL (what the OpenAI SDK's base_url and PARADIGM_BASE_URL take)."""
        return self.server.v2

    @property
    def v2(self) -> str:
        return self.server.v2

    @property
    def v3(self) -> str:
        return self.server.v3

    @property
    def root_url(self) -> str:
        """The server root, without /api/v2: for the control API (/_emulator/...) and raw paths."""
        return self.server.base_url

    @property
    def settings(self) -> Settings:
        return self.server.settings

    @property
    def environ(self) -> dict[str, str]:
        """What the plugin puts in os.environ for the length of a test (subprocesses inherit it)."""
        return {"PARADIGM_BASE_URL": self.base_url, "PARADIGM_API_KEY": self.api_key}

    # -- clients -----------------------------------------------------------------------------------

    def client(self, version: str = "v2", **options: Any) -> openai.OpenAI:
        """An ``openai.OpenAI`` for this emulator (max_retries=0 unless given). Its connections come
        from one pool per emulator, kept for the process: a test does not pay for a new connection
        (one given ``http_client=`` is the caller's, closed after the test)."""
        import openai  # imported by the first test that asks for a client: half a second
        own = "http_client" in options
        http_client = options.pop("http_client") if own else shared_http(self.server.base_url)
        made = openai.OpenAI(**{"api_key": self.api_key, "base_url": self._url(version), "max_retries": 0,
                                "timeout": CLIENT_TIMEOUT_S, "http_client": http_client, **options})
        if own:
            self._clients.append(made)
        return made

    def async_client(self, version: str = "v2", **options: Any) -> openai.AsyncOpenAI:
        """An ``openai.AsyncOpenAI`` for this emulator. Its connections are not kept alive, so it
        holds nothing bound to the test's event loop and needs no closing (any loop, any plugin)."""
        import httpx
        import openai  # imported by the first test that asks for a client: half a second
        transport = httpx.AsyncHTTPTransport(verify=_PLAIN_HTTP, trust_env=False,
                                             limits=httpx.Limits(max_keepalive_connections=0))
        http_client = httpx.AsyncClient(transport=transport, trust_env=False)
        return openai.AsyncOpenAI(
            **{
                "api_key": self.api_key,
                "base_url": self._url(version),
                "max_retries": 0,
                "timeout": CLIENT_TIMEOUT_S,
                "http_client": http_client,
                **options,
            }
        )

    def _url(self, version: str) -> str:
        if version not in ("v2", "v3"):
            raise ValueError(f"version must be 'v2' or 'v3', not {version!r}")
        return self.v2 if version == "v2" else self.v3

    # -- between tests -----------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to the state at start-up: runtime fixtures, sequence counters, journal, files."""
        self._check(self._call("POST", "/reset"))
        self._scripted.clear()
        self._journal.clear()
        self._log.forget()

    def close(self) -> None:
        for made in self._clients:
            made.close()
        self._clients.clear()

    def __repr__(self) -> str:
        return f"<ParadigmEmulator {self.base_url}>"
