"""Shared test wiring: a real emulator on an ephemeral loopback port, and clients for it."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import httpx
import openai
import pytest

from emulator.config import Settings
from emulator.server import EmulatorServer

KEY = "test-key"
ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = httpx.Timeout(10.0)
pytest_plugins = ["emulator.plugin"]  # the paradigm_* fixtures, for tests/examples and tests/test_plugin.py


@pytest.fixture(scope="session")
def server():
    """One emulator for the whole session; tests that change its state reset it (see ``emulator``)."""
    with EmulatorServer(Settings()) as running:
        yield running


@pytest.fixture
def emulator(server):
    """The shared emulator, reset before the test and after it (so that a later test that only
    asks for ``client`` or ``http`` never inherits this one's fixtures or files)."""
    server.emulator.reset()
    yield server.emulator
    server.emulator.reset()


@pytest.fixture
def make_server():
    """A dedicated emulator with its own settings, stopped at the end of the test."""
    started = []

    def make(**changes) -> EmulatorServer:
        running = EmulatorServer(Settings(**changes)).start()
        started.append(running)
        return running

    yield make
    for running in started:
        running.stop()


@pytest.fixture
def client(server):
    with openai.OpenAI(api_key=KEY, base_url=server.v2, timeout=10.0, max_retries=0) as c:
        yield c


@pytest.fixture
def client_v3(server):
    with openai.OpenAI(api_key=KEY, base_url=server.v3, timeout=10.0, max_retries=0) as c:
        yield c


@pytest.fixture
async def async_client(server):
    async with openai.AsyncOpenAI(api_key=KEY, base_url=server.v2, timeout=10.0, max_retries=0) as c:
        yield c


@pytest.fixture
def http(server):
    """Raw HTTP with the bearer key set: for exact bytes, status codes and headers."""
    with httpx.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=TIMEOUT
    ) as c:
        yield c


def frozen_clock(now: list[float]):
    """A stand-in for the state backend's shared clock (``server.emulator.state.now = ...``): it reads
    ``now[0]``, so a test sets the time an ingestion or a turn sees."""
    async def clock() -> float:
        return now[0]

    return clock


@pytest.fixture
def anyio_backend():
    return "asyncio"


# -- both state backends ---------------------------------------------------------------------------
# A test of state (files, fixtures, journal, threads ...) takes `on_backend` (or `backend_http`) and
# runs once on the memory backend and once on a real Redis: .ci/run starts redis-server on a free
# loopback port and exports PARADIGM_TEST_REDIS_URL. Without it the Redis half is skipped locally,
# and fails in CI, where a missing Redis must never pass for a green run.
REDIS_URL = os.environ.get("PARADIGM_TEST_REDIS_URL")


def backend_overrides(kind: str) -> dict:
    if kind == "memory":
        return {}
    if not REDIS_URL:
        if os.environ.get("CI"):
            pytest.fail("CI must export PARADIGM_TEST_REDIS_URL (see .ci/run)")
        pytest.skip("no Redis: set PARADIGM_TEST_REDIS_URL=redis://127.0.0.1:PORT/0")
    # A prefix per server: several test servers (and runs) share one Redis without seeing each other.
    return {"redis_url": REDIS_URL, "redis_prefix": f"paradigm-test-{uuid.uuid4().hex[:12]}:"}


@pytest.fixture(scope="session", params=["memory", "redis"])
def backend_server(request):
    """One emulator per backend for the whole session."""
    with EmulatorServer(Settings(**backend_overrides(request.param))) as running:
        yield running
        running.emulator.state.clear()  # on Redis: this run's prefix leaves nothing behind


@pytest.fixture
def on_backend(backend_server):
    """The session's emulator of this backend, reset through the control API before the test."""
    httpx.post(backend_server.base_url + "/_emulator/reset", timeout=TIMEOUT).raise_for_status()
    yield backend_server


@pytest.fixture
def backend_http(on_backend):
    """Raw HTTP with the bearer key set, to the emulator of this backend."""
    with httpx.Client(base_url=on_backend.base_url, headers={"Authorization": f"Bearer {KEY}"},
                      timeout=TIMEOUT) as c:
        yield c


# -- a real browser, for the inspector page (Debian's chromium, driven by Playwright's driver) -------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
WAIT_MS = 15_000  # generous: the machine may be loaded; nothing here is a speed check


def _need_browser() -> None:
    problem = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problem = "playwright is not installed (pip install -e '.[test]')"
    if problem is None and CHROMIUM is None:
        problem = "no chromium on PATH (apt-get install chromium)"
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser tests: {problem} (see .ci/run)")
        pytest.skip(problem)


@pytest.fixture(scope="module")
def browser():
    _need_browser()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()
