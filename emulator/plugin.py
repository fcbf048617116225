"""The pytest plugin: a running emulator and a ready client in one fixture.

Installing the package registers it (entry point ``pytest11``); a suite without the entry
point loads it with ``-p emulator.plugin`` or ``pytest_plugins = ["emulator.plugin"]``.

Fixtures (all function-scoped)::

    paradigm_emulator       the handle (handle.ParadigmEmulator): URLs, scripting, journal
    paradigm_client         openai.OpenAI on the v2 base URL, key set, max_retries=0
    paradigm_async_client   openai.AsyncOpenAI, the same
    paradigm_base_url       the v2 base URL (also in PARADIGM_BASE_URL during the test)

The server is the expensive part, so it lives for the whole session (one per xdist worker) and
the handle only resets it: runtime fixtures, counters, journal and files, before every test.
Tests whose settings differ (``@pytest.mark.paradigm(seed=7)``, ini ``paradigm_seed``,
``paradigm_fixtures``) get a server of their own, started on first use and shared by every
test with the same settings.

``--paradigm-url URL`` (or ``PARADIGM_EMULATOR_URL``) uses an emulator that already runs (a
shared CI service, ``serve --workers N`` on Redis) instead of starting one: the handle talks to
it through the control API only, so reset and journal assertions work the same. Its settings are
its own: a marker that asks for other settings fails, but ``fixtures=`` folders are loaded into
it (after each reset). There, each session and each xdist worker calls with a key of its own
(``PARADIGM_EMULATOR_API_KEY``, else one made up), so its fixtures, counters, journal, limits and
resets are its own test space's (docs/team.md): suites share the emulator without seeing each
other, and what a session posted is cleared when it ends. Importing this module is cheap: the
server, uvicorn and openai are imported by the first test that asks for them.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

if TYPE_CHECKING:  # the server, the handle and openai load with the first test that uses them
    import openai

    from .server import EmulatorServer
    from .testing.handle import ParadigmEmulator
    from .testing.servers import RemoteServer

MARKER = "paradigm"
URL_ENV = "PARADIGM_EMULATOR_URL"
# The key(s) a session uses on a shared emulator (comma-separated: xdist worker N takes the Nth);
# by default each session and each worker makes up a key of its own, so its space is its own.
KEY_ENV = "PARADIGM_EMULATOR_API_KEY"
_PATH_SETTINGS = ("fixtures_dir", "models", "spec_dir", "data_dir")
_NOT_SETTABLE = ("port", "host")  # the plugin binds a free port on loopback


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("paradigm").addoption(
        "--paradigm-url", dest="paradigm_url", default=None, metavar="URL",
        help=f"use the Paradigm emulator running at URL instead of starting one (env {URL_ENV})")
    parser.addini(
        "paradigm_fixtures",
        "folder of fixture files (scripted answers) the Paradigm emulator "
        "loads for every test; @pytest.mark.paradigm(fixtures=...) overrides it",
        type="paths",
        default=[],
    )
    from .testing.recording import add_options

    add_options(parser)
    parser.addini("paradigm_seed", "seed of the Paradigm emulator's generated texts, ids and vectors "
                  "(default 0); @pytest.mark.paradigm(seed=...) overrides it", default="")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(fixtures=None, seed=None, **settings): run the test against a Paradigm emulator "
        "with these settings: fixtures= a folder of fixture files, seed= an int, and any other "
        "emulator Settings field (ttft_ms, itl_ms, strict, api_keys, models ...)",
    )
    from .testing.recording import add_marker

    add_marker(config)


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
            pytest.fail(self._failures[key], pytrace=False)
        server = self._servers.get(key)
        if server is None:
            from .config import Settings
            from .server import EmulatorServer

            try:
                server = EmulatorServer(Settings(**overrides)).start()
            except Exception as exc:
                shown = ", ".join(f"{k}={v!r}" for k, v in overrides.items()) or "default settings"
                self._failures[key] = f"the Paradigm emulator could not start ({shown}): {exc}"
                pytest.fail(self._failures[key], pytrace=False)
            self._servers[key] = server
        return server

    def remote(self, url: str) -> EmulatorServer | RemoteServer:
        """The emulator at ``url`` (--paradigm-url), checked once: a wrong URL fails every test that
        uses it with one clear message, not with a connection error per request."""
        key = ("remote", url)
        if key in self._failures:
            pytest.fail(self._failures[key], pytrace=False)
        server = self._servers.get(key)
        if server is None:
            import httpx

            from .testing.servers import RemoteServer

            try:
                server = RemoteServer(url)
                health = httpx.get(server.base_url + "/_emulator/health", timeout=10, trust_env=False)
                health.raise_for_status()
            except (ValueError, httpx.HTTPError) as exc:
                self._failures[key] = (f"the Paradigm emulator at {url} (--paradigm-url / {URL_ENV}) "
                                       f"is not usable: {exc}")
                pytest.fail(self._failures[key], pytrace=False)
            self._servers[key] = server
        return server

    def stop_all(self) -> None:
        from .testing.handle import ParadigmEmulator
        from .testing.pools import close_control_clients

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


def _refuse(message: str) -> NoReturn:
    """A misconfigured marker or ini option fails the tests that use it, with just this message."""
    pytest.fail(message, pytrace=False)


def requested_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings for this test: the ini options, then paradigm markers from the farthest (module)
    to the closest (function), a closer marker winning key by key."""
    config = request.config
    overrides: dict[str, Any] = {}
    folders = config.getini("paradigm_fixtures")
    if len(folders) > 1:
        _refuse(f"paradigm_fixtures takes one folder, got {len(folders)}: {' '.join(map(str, folders))}")
    if folders:
        overrides["fixtures_dir"] = _existing_dir(Path(folders[0]), "ini option paradigm_fixtures")
    seed = config.getini("paradigm_seed").strip()
    if seed:
        overrides["seed"] = _seed(seed, "ini option paradigm_seed")
    for marker in reversed(list(request.node.iter_markers(MARKER))):
        overrides.update(_marker_settings(marker, request))
    return overrides


def _marker_settings(marker: pytest.Mark, request: pytest.FixtureRequest) -> dict[str, Any]:
    import dataclasses

    from .config import Settings

    where = f"@pytest.mark.{MARKER} on {request.node.nodeid}"
    if marker.args:
        _refuse(f"{where}: takes keyword arguments only (fixtures=..., seed=...), got {marker.args!r}")
    fields = {f.name for f in dataclasses.fields(Settings)} - set(_NOT_SETTABLE)
    settings: dict[str, Any] = {}
    for name, value in marker.kwargs.items():
        field = "fixtures_dir" if name == "fixtures" else name
        if field not in fields:
            _refuse(f"{where}: unknown setting {name!r}; use fixtures, seed or one of "
                    f"{', '.join(sorted(fields - {'fixtures_dir'}))}")
        if field == "seed":
            value = _seed(value, f"{where}: seed")
        elif field == "api_keys":
            value = (value,) if isinstance(value, str) else tuple(value)
        elif field in _PATH_SETTINGS and value is not None:
            value = _resolve(Path(value), request, where, must_be_dir=field in ("fixtures_dir", "spec_dir"))
        settings[field] = value
    return settings


def _seed(value: Any, where: str) -> int:
    try:
        if isinstance(value, bool):
            raise ValueError
        return int(value)
    except (TypeError, ValueError):
        _refuse(f"{where} must be a whole number, not {value!r}")


def _resolve(path: Path, request: pytest.FixtureRequest, where: str, must_be_dir: bool) -> Path:
    """A relative path is read from the rootdir (where pytest.ini/pyproject.toml is), else from the
    test file's folder."""
    tries = [path] if path.is_absolute() else [request.config.rootpath / path, request.path.parent / path]
    for candidate in tries:
        if candidate.is_dir() or (candidate.exists() and not must_be_dir):
            return candidate.resolve()
    kind = "folder" if must_be_dir else "file"
    _refuse(f"{where}: {str(path)!r} is not a {kind} (looked for {' and '.join(map(str, tries))})")


def _existing_dir(path: Path, where: str) -> Path:
    if not path.is_dir():
        _refuse(f"{where}: {str(path)!r} is not a folder")
    return path.resolve()


@pytest.fixture(scope="session")
def paradigm_server_pool() -> Iterator[ServerPool]:
    pool = ServerPool()
    yield pool
    pool.stop_all()


@pytest.fixture
def paradigm_emulator(request: pytest.FixtureRequest,
                      paradigm_server_pool: ServerPool) -> Iterator[ParadigmEmulator]:
    """A handle on a running emulator, reset for this test; PARADIGM_BASE_URL/PARADIGM_API_KEY set."""
    from .testing.handle import ParadigmEmulator

    settings = requested_settings(request)
    url = request.config.getoption("paradigm_url", None) or os.environ.get(URL_ENV)
    if url:
        folder = settings.pop("fixtures_dir", None)
        if settings:
            asked = ", ".join(sorted(settings))
            _refuse(f"{request.node.nodeid} asks for emulator settings ({asked}) but the "
                    f"emulator is the one at {url} (--paradigm-url / {URL_ENV}), which has its own: run it "
                    "with those settings, or run this test without --paradigm-url")
        key = paradigm_server_pool.space_key(url)
        handle = ParadigmEmulator(paradigm_server_pool.remote(url), api_key=key, space=True)
        handle.reset()
        if folder is not None:
            handle.load_fixtures(folder)
    else:
        from .testing.recording import recording_settings

        recording, replayed = recording_settings(request)  # @pytest.mark.paradigm_record
        handle = ParadigmEmulator(paradigm_server_pool.get({**settings, **recording}))
        handle.reset()
        if replayed is not None:
            handle.load_fixtures(replayed)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in handle.environ.items():
            patch.setenv(name, value)
        yield handle
    handle.close()


@pytest.fixture
def paradigm_client(paradigm_emulator: ParadigmEmulator) -> openai.OpenAI:
    """``openai.OpenAI`` on the emulator's v2 API (max_retries=0: a retry would hide a failure)."""
    return paradigm_emulator.client()


@pytest.fixture
def paradigm_async_client(paradigm_emulator: ParadigmEmulator) -> openai.AsyncOpenAI:
    """``openai.AsyncOpenAI`` on the emulator's v2 API; works under anyio, pytest-asyncio or trio."""
    return paradigm_emulator.async_client()


@pytest.fixture
def paradigm_base_url(paradigm_emulator: ParadigmEmulator) -> str:
    """The emulator's v2 base URL, e.g. http://127.0.0.1:PORT/api/v2."""
    return paradigm_emulator.base_url


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test that used the emulator shows what reached it (the journal), under its own heading."""
    report = yield
    handle = getattr(item, "funcargs", {}).get("paradigm_emulator")
    if report.failed and call.when == "call" and handle is not None:
        requests = handle.requests
        lines = [r.describe() + (f" [fixture {r.fixture}]" if r.fixture else "") for r in requests[-20:]]
        report.sections.append(("Paradigm emulator requests",
                                "\n".join(lines) if lines else "(no request reached the emulator)"))
    return report
