"""The pytest plugin: a running emulator and a ready client in one fixture.

Installing the package registers it (entry point ``pytest11``); a suite without the entry
point loads it with ``-p emulator.plugin`` or ``pytest_plugins = ["emulator.plugin"]``.
Its two needs, pytest and openai (for the clients), are dependencies of the package.

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

Its parts, in ``testing/``: ``markers`` (the settings a test asks for), ``server_pool`` (the
session's emulators), ``recording`` (record and replay), ``handle`` (what a test holds).
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # the server, the handle and openai load with the first test that uses them
    import openai

    from .testing.handle import ParadigmEmulator
    from .testing.server_pool import ServerPool


def pytest_addoption(parser: pytest.Parser) -> None:
    from .testing.server_pool import URL_ENV

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
    from .testing.markers import MARKER

    config.addinivalue_line(
        "markers",
        f"{MARKER}(fixtures=None, seed=None, **settings): run the test against a Paradigm emulator "
        "with these settings: fixtures= a folder of fixture files, seed= an int, and any other "
        "emulator Settings field (ttft_ms, itl_ms, strict, api_keys, models ...)",
    )
    from .testing.recording import add_marker

    add_marker(config)


@pytest.fixture(scope="session")
def paradigm_server_pool() -> Iterator[ServerPool]:
    from .testing.server_pool import ServerPool

    pool = ServerPool()
    yield pool
    pool.stop_all()


@pytest.fixture
def paradigm_emulator(request: pytest.FixtureRequest,
                      paradigm_server_pool: ServerPool) -> Iterator[ParadigmEmulator]:
    """A handle on a running emulator, reset for this test; PARADIGM_BASE_URL/PARADIGM_API_KEY set."""
    from .testing.handle import ParadigmEmulator
    from .testing.markers import refuse, requested_settings
    from .testing.server_pool import URL_ENV

    settings = requested_settings(request)
    url = request.config.getoption("paradigm_url", None) or os.environ.get(URL_ENV)
    if url:
        folder = settings.pop("fixtures_dir", None)
        if settings:
            asked = ", ".join(sorted(settings))
            refuse(f"{request.node.nodeid} asks for emulator settings ({asked}) but the "
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
