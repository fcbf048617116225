"""Shared test wiring: a real emulator on an ephemeral loopback port, and clients for it."""

from __future__ import annotations

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
    with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=TIMEOUT) as c:
        yield c


@pytest.fixture
def anyio_backend():
    return "asyncio"
