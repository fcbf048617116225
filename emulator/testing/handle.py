"""``ParadigmEmulator``: what a test holds: the URLs, scripted answers, and the requests made.

The pytest plugin gives one per test (``paradigm_emulator``) over a server that lives for the
whole session; ``reset()`` is what makes the server new again between tests. Nothing here needs
pytest, so a unittest suite can use it too::

    with EmulatorServer() as server:
        emu = ParadigmEmulator(server)
        emu.on_chat(contains="weather").reply("Sunny")
        ...
        emu.assert_called("chat", model="alfred-4.2")

The handle talks to the emulator only through its control API over HTTP (``/_emulator``: the rules
it builds are that API's fixture dicts), so it works the same on an emulator that runs elsewhere:
``ParadigmEmulator(RemoteServer("http://ci-emulator:8000"))`` (the plugin's ``--paradigm-url``).
"""

from __future__ import annotations

import atexit
import functools
import itertools
import os
import ssl
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast
from urllib.parse import quote

from .control import ControlClient, ControlResponse
from .local_control import LocalControlClient, LocalServer
from .requests import Request, RequestLog
from .rules import Rule, build_match, text_matcher

if TYPE_CHECKING:  # imported where they are used, so that importing the handle stays cheap
    import httpx
    import openai

    from ..config import Settings
    from ..journal import Entry
    from ..operations import OperationNames

DEFAULT_API_KEY = "paradigm-test-key"
CLIENT_TIMEOUT_S = 10.0

# The emulator speaks plain HTTP on loopback. Handing httpx a context without CA certificates
# spares it the 20 ms it spends loading them for every client (that is 20 s over 1,000 tests).
_PLAIN_HTTP = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def _brief(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


class _Verbatim:
    """A fixture dict added as it is (``add_fixture``), kept in order among the rules."""

    def __init__(self, fixture: Mapping[str, Any], name: str):
        self.fixture = {**fixture, "name": name}
        self.name = name


class Server(Protocol):
    """What the handle uses of a server: an ``EmulatorServer`` in this process, or a ``RemoteServer``."""

    @property
    def base_url(self) -> str: ...

    @property
    def v2(self) -> str: ...

    @property
    def v3(self) -> str: ...

    @property
    def settings(self) -> Settings: ...


_Scripted = TypeVar("_Scripted", "Rule", "_Verbatim")


class RemoteServer:
    """An emulator that runs elsewhere (``paradigm-emulator serve`` on another host, a shared CI
    service): what ``ParadigmEmulator`` needs of a server, from its URL alone. Its settings are
    not known here; ``admin_token`` (for an emulator run with --admin-token) is sent on every
    control call, and defaults to PARADIGM_EMULATOR_ADMIN_TOKEN."""

    def __init__(self, url: str, admin_token: str | None = None, api_key: str | None = None):
        from ..config import Settings, env_name

        root = url.rstrip("/")
        for suffix in ("/api/v2", "/api/v3"):
            if root.endswith(suffix):
                root = root[:-len(suffix)]
        if not root.startswith(("http://", "https://")):
            raise ValueError(f"the emulator's URL must start with http:// or https://, got {url!r}")
        self.base_url = root
        token = admin_token if admin_token is not None else os.environ.get(env_name("admin_token"))
        self.settings = Settings(admin_token=token or None, api_keys=(api_key,) if api_key else ())

    @property
    def v2(self) -> str:
        return self.base_url + "/api/v2"

    @property
    def v3(self) -> str:
        return self.base_url + "/api/v3"

    def __repr__(self) -> str:
        return f"<RemoteServer {self.base_url}>"


class ControlError(RuntimeError):
    """The control API answered something a test cannot go on from (not a refused fixture)."""


class ParadigmEmulator:
    """One test's view of a running emulator (``server``: an ``EmulatorServer`` or a ``RemoteServer``)."""

    def __init__(self, server: Server, api_key: str | None = None, space: bool = False):
        self.server = server
        self.api_key = api_key or next(iter(server.settings.api_keys), DEFAULT_API_KEY)
        # space=True: every control call addresses this key's test space only (its fixtures, journal,
        # limits and reset), so that other suites can share the emulator (docs/team.md).
        self.space = space
        self._control = _control_client(server, self.api_key if space else None)
        self._journal: list[Entry] = []  # this test's, oldest first (read since the last seq)
        self._log = RequestLog(self._entries)
        self._scripted: list[Rule | _Verbatim] = []  # in the order they were added: matching order
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
        import openai

        own = "http_client" in options
        http_client = options.pop("http_client") if own else _shared_http(self.server.base_url)
        made = openai.OpenAI(**{"api_key": self.api_key, "base_url": self._url(version), "max_retries": 0,
                                "timeout": CLIENT_TIMEOUT_S, "http_client": http_client, **options})
        if own:
            self._clients.append(made)
        return made

    def async_client(self, version: str = "v2", **options: Any) -> openai.AsyncOpenAI:
        """An ``openai.AsyncOpenAI`` for this emulator. Its connections are not kept alive, so it
        holds nothing bound to the test's event loop and needs no closing (any loop, any plugin)."""
        import httpx
        import openai

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

    # -- scripted answers --------------------------------------------------------------------------

    def on(self, operation: str | None = None, *, name: str | None = None, times: int | None = None,
           priority: int | None = None, **conditions: Any) -> Rule:
        """A rule for ``operation`` (a path, an operationId, or chat|completions|embeddings|models;
        None: chat, completions and embeddings). Conditions: contains, regex, last_user_message,
        model, system, any_message, tool_result, tool_call_id, has_tools, headers, body."""
        match = build_match(operation, **conditions)
        shown = [repr(operation)] if operation is not None else []
        name = name or self._name("on", shown, conditions)
        return self._add(Rule(match, name, self._install, times, priority))

    def on_chat(self, contains: str | None = None, *, version: str | None = None, **conditions: Any) -> Rule:
        """A rule for chat completions (v2 and v3, or only ``version``)."""
        return self._on("on_chat", "chat", "/chat/completions", version, contains, conditions)

    def on_completion(
        self, contains: str | None = None, *, version: str | None = None, **conditions: Any
    ) -> Rule:
        """A rule for legacy completions; ``contains`` tests the prompt."""
        return self._on("on_completion", "completions", "/completions", version, contains, conditions)

    def on_embeddings(
        self, contains: str | None = None, *, version: str | None = None, **conditions: Any
    ) -> Rule:
        """A rule for embeddings; ``contains`` tests the input."""
        return self._on("on_embeddings", "embeddings", "/embeddings", version, contains, conditions)

    def on_turn(
        self,
        contains: str | None = None,
        *,
        turn_index: int | None = None,
        agent_id: int | None = None,
        force_tool: Any = None,
        **conditions: Any,
    ) -> Rule:
        """A rule for v3 turns (POST /api/v3/threads/turns and /threads/{id}/turns); ``contains`` and
        the other text conditions test the query. ``turn_index`` (0: a thread's first turn), ``agent_id``
        and ``force_tool`` test the turn."""
        if contains is not None:
            conditions["contains"] = contains
        name = conditions.pop("name", None)
        times, priority = conditions.pop("times", None), conditions.pop("priority", None)
        match = build_match("turn", **conditions)
        for key, value in (("turn_index", turn_index), ("agent_id", agent_id)):
            if value is not None:
                match[key] = value
        if force_tool is not None:
            match["force_tool"] = text_matcher(force_tool, "force_tool")
        shown = {**conditions, "turn_index": turn_index, "agent_id": agent_id, "force_tool": force_tool}
        name = name or self._name("on_turn", [], shown)
        return self._add(Rule(match, name, self._install, times, priority, turn=True))

    def _on(self, method: str, alias: str, path: str, version: str | None, contains: str | None,
            conditions: dict[str, Any]) -> Rule:
        if version is not None and version not in ("v2", "v3"):
            raise ValueError(f"version must be 'v2' or 'v3', not {version!r}")
        operation = f"/api/{version}{path}" if version else alias
        if contains is not None:
            conditions["contains"] = contains
        name = conditions.pop("name", None) or self._name(method, [], {"version": version, **conditions})
        return self.on(operation, name=name, **conditions)

    def _name(self, method: str, shown: list[str], conditions: Mapping[str, Any]) -> str:
        """A name that says what the rule matches, as it shows in the journal: on_chat(contains='x') #1."""
        shown = shown + [f"{key}={_brief(value)}" for key, value in conditions.items()
                         if value is not None and key not in ("times", "priority")]
        return f"{method}({', '.join(shown)}) #{next(self._numbers)}"

    def _add(self, entry: _Scripted) -> _Scripted:
        self._install(entry)  # a fixture the emulator refuses raises here, and is not kept
        self._scripted.append(entry)
        return entry

    def add_fixture(self, fixture: Mapping[str, Any]) -> str:
        """Add a fixture dict of the YAML model as it is; returns its name."""
        return self._add(_Verbatim(fixture, fixture.get("name") or f"fixture #{next(self._numbers)}")).name

    def remove(self, rule: Rule | str) -> None:
        name = rule if isinstance(rule, str) else rule.name
        self._scripted = [s for s in self._scripted if s.name != name]
        response = self._call("DELETE", "/fixtures/" + quote(name, safe=""))
        if response.status_code == 404:
            raise KeyError(name)
        if response.status_code == 409:
            raise PermissionError(response.json().get("detail"))
        self._check(response)

    def load_fixtures(self, path: Any) -> list[str]:
        """Load a folder of fixture files now, until the next reset (a marker or the ini option
        loads them at start-up). The files are read here, so the folder need not be on the
        emulator's machine; a broken one raises FixtureError naming its file and line."""
        from ..scripts.loading import load_dirs

        fixtures = load_dirs([Path(path)], _operations(str(self.server.settings.spec_dir)))
        if not fixtures:
            return []
        return self._post_fixtures([{**f.raw, "name": f.name} for f in fixtures])

    @property
    def rules(self) -> tuple[Rule | _Verbatim, ...]:
        """The rules and fixture dicts this test added, in order."""
        return tuple(self._scripted)

    @property
    def fixtures(self) -> list[dict[str, Any]]:
        """Every fixture the emulator holds: from files, then added at runtime."""
        return self._check(self._call("GET", "/fixtures")).json()["fixtures"]

    def _install(self, changed: Rule | _Verbatim) -> None:
        """Hand the rule's new dict to the emulator; one of the same name is replaced in place, so a
        rule keeps its place in the matching order however long its script grows."""
        self._post_fixtures([changed.fixture])

    def _post_fixtures(self, fixtures: list[Mapping[str, Any]]) -> list[str]:
        response = self._call("POST", "/fixtures", json=list(fixtures))
        if response.status_code == 400:  # refused: the same FixtureError the Python API raised
            from ..scripts.loading import FixtureError

            raise FixtureError(response.json().get("detail", response.text))
        return self._check(response).json()["added"]

    def limit(self, rpm: int | None = None, tpm: int | None = None) -> None:
        """Rate limits (requests, tokens per window) for this test's user; ``limit()`` lifts them.
        The next reset (the next test) lifts them too."""
        self._check(self._call("PUT", "/limits", json={"rpm": rpm, "tpm": tpm}))

    # -- the control API -----------------------------------------------------------------------------

    def _call(self, method: str, path: str, **options: Any) -> ControlResponse:
        import http.client

        try:
            return self._control.request(method, "/_emulator" + path, **options)
        except (OSError, http.client.HTTPException) as exc:
            raise ControlError(f"the Paradigm emulator at {self.server.base_url} did not answer "
                               f"{method} /_emulator{path}: {exc!r}") from None

    def _check(self, response: ControlResponse) -> ControlResponse:
        if response.status_code >= 400:
            raise ControlError(f"{response.method} /_emulator{response.path}: "
                               f"{response.status_code} {response.text[:500]}")
        return response

    def _entries(self) -> list[Entry]:
        """This test's journal entries, oldest first: only what is new since the last read is fetched."""
        from ..journal import Entry

        after = self._journal[-1].seq if self._journal else 0  # reset empties it; the numbering goes on
        response = self._check(self._call("GET", "/journal", params={"after": after}))
        self._journal.extend(Entry.from_dict(data) for data in response.json()["requests"])
        return self._journal

    # -- what was asked ----------------------------------------------------------------------------

    @property
    def requests(self) -> tuple[Request, ...]:
        """Every request of this test, oldest first."""
        return self._log.all

    @property
    def call_count(self) -> int:
        return len(self._entries())

    @property
    def last(self) -> Request:
        __tracebackhide__ = True
        requests = self._log.all
        if not requests:
            raise AssertionError("no request has reached the emulator in this test (is the code under test "
                                 f"using {self.base_url} or PARADIGM_BASE_URL?)")
        return requests[-1]

    def wait_for(self, count: int, timeout_s: float = 5.0) -> tuple[Request, ...]:
        """Wait until ``count`` requests are in the journal: for calls made from background threads,
        and for a request the client gave up on, which the emulator records when it is done."""
        __tracebackhide__ = True
        deadline = time.monotonic() + timeout_s
        while True:
            requests = self._log.all
            if len(requests) >= count:
                return requests
            if time.monotonic() >= deadline:
                raise AssertionError(f"waited {timeout_s} s for {count} request(s), {len(requests)} arrived")
            time.sleep(0.005)

    def calls(self, target: str | None = None, body: Mapping[str, Any] | None = None,
              **body_subset: Any) -> tuple[Request, ...]:
        """The requests to ``target`` whose body contains ``body_subset`` (see ``recorded``)."""
        return self._log.filter(target, {**(body or {}), **body_subset})

    def assert_called(self, target: str | None = None, times: int | None = 1, *,
                      body: Mapping[str, Any] | None = None, **body_subset: Any) -> tuple[Request, ...]:
        """Exactly ``times`` requests to ``target`` (None: at least one) whose JSON body contains
        ``body_subset``; use ``body={...}`` for keys that are not Python names. Returns them."""
        __tracebackhide__ = True
        return self._log.assert_called(target, times, {**(body or {}), **body_subset})

    def assert_not_called(self, target: str | None = None, *, body: Mapping[str, Any] | None = None,
                          **body_subset: Any) -> None:
        __tracebackhide__ = True
        self._log.assert_called(target, 0, {**(body or {}), **body_subset})

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


_clients: dict[tuple[str, str | None, str | None], ControlClient] = {}
_clients_lock = threading.Lock()


def _control_client(server: Server, space_key: str | None = None) -> ControlClient | LocalControlClient:
    """The app itself for a server in this process (``local_control``); else one keep-alive client per
    emulator (and test space) for the whole process: a reset is one round trip on an open
    connection, not a new connection (nor a new client) per test."""
    admin_token = server.settings.admin_token
    headers = {"X-Emulator-Admin-Token": admin_token} if admin_token else {}
    if space_key:
        headers["X-Emulator-Api-Key"] = space_key
    if hasattr(server, "serving_loop") and hasattr(server, "app"):
        return LocalControlClient(cast("LocalServer", server), headers, CLIENT_TIMEOUT_S)
    key = (server.base_url, admin_token, space_key)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = ControlClient(server.base_url, headers, CLIENT_TIMEOUT_S)
        return client


_pools: dict[str, httpx.Client] = {}


def _shared_http(base_url: str) -> httpx.Client:
    """The httpx client the handles' ``openai.OpenAI`` clients share for one emulator (a new one if a
    test closed it, as ``with emu.client() as client:`` does)."""
    import httpx

    with _clients_lock:
        pool = _pools.get(base_url)
        if pool is None or pool.is_closed:
            pool = _pools[base_url] = httpx.Client(verify=_PLAIN_HTTP, trust_env=False)
        return pool


def close_control_clients() -> None:
    """Close the control API clients and the shared connection pools (the plugin does it at the end
    of the session)."""
    with _clients_lock:
        clients, pools = list(_clients.values()), list(_pools.values())
        _clients.clear()
        _pools.clear()
    for client in clients:
        client.close()
    for pool in pools:
        pool.close()


atexit.register(close_control_clients)


@functools.lru_cache(maxsize=4)
def _operations(spec_dir: str) -> OperationNames:
    """The operations fixture files are checked against before they are sent (loaded once)."""
    from ..operations import OperationNames
    from ..spec import load_specs

    return OperationNames([op for spec in load_specs(Path(spec_dir)) for op in spec.operations])
