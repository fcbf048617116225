"""The rate limits' sliding windows on both backends: exactly N admitted among calls made at
once, corrections counted before the worker's next admission (whether they wait, ride along with
it or are on their way), and a correction after a reset leaving the new window alone."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from emulator.limits.windows import MemoryWindows, Windows, windows_for
from tests.conftest import REDIS_URL

BUCKET = "space:1:*"


@pytest.fixture(params=["memory", "redis"])
def make_windows(request):
    """A factory of fresh windows of one kind (on Redis: under a prefix of their own, cleared after)."""
    made = []

    async def make() -> Windows:
        if request.param == "memory":
            return MemoryWindows()
        if not REDIS_URL:
            pytest.skip("needs PARADIGM_TEST_REDIS_URL")
        from emulator.state.redis import RedisBackend

        backend = RedisBackend(REDIS_URL, f"windows-{uuid.uuid4().hex[:8]}:")
        made.append(backend)
        return windows_for(backend)

    yield make


def run(coroutine):
    return asyncio.run(coroutine)


async def _close(windows: Windows) -> None:
    backend = getattr(windows, "backend", None)
    if backend is not None:
        await backend.clear()
        await backend.close()


def test_exactly_n_of_the_calls_made_at_once_are_admitted(make_windows):
    async def scenario():
        windows = await make_windows()
        decisions = await asyncio.gather(*(windows.admit(BUCKET, 60.0, 3, None, 0) for _ in range(10)))
        await _close(windows)
        return decisions

    decisions = run(scenario())
    assert sum(d.admitted for d in decisions) == 3
    assert all(d.wait_requests_s > 0 for d in decisions if not d.admitted)


def test_a_correction_counts_before_the_next_admission_however_it_travels(make_windows):
    async def scenario():
        windows = await make_windows()
        first = await windows.admit(BUCKET, 60.0, None, 10_000, 100)
        await windows.correct(BUCKET, first.entry, 30)
        second = await windows.admit(BUCKET, 60.0, None, 10_000, 100)  # at once: the correction waits
        await windows.correct(BUCKET, second.entry, 40)
        await asyncio.sleep(0)  # one turn of the loop: on Redis the corrections are now on their way
        third = await windows.admit(BUCKET, 60.0, None, 10_000, 100)
        await _close(windows)
        return first, second, third

    first, second, third = run(scenario())
    assert (first.tokens, second.tokens, third.tokens) == (100, 130, 170)


def test_a_correction_after_a_reset_leaves_the_new_window_alone(make_windows):
    async def scenario():
        windows = await make_windows()
        old = await windows.admit(BUCKET, 60.0, None, 10_000, 500)
        await windows.clear("space:")
        await windows.admit(BUCKET, 60.0, None, 10_000, 100)
        await windows.correct(BUCKET, old.entry, 1)
        after = await windows.admit(BUCKET, 60.0, None, 10_000, 100)
        await _close(windows)
        return after

    assert run(scenario()).tokens == 200
