"""The state backend protocol, on both implementations: the memory default and a real Redis.

Every feature above the backend (journal, fixtures, files, threads) relies on these few promises,
so they are checked here once, on each backend, with the concurrency that makes them matter.
"""

from __future__ import annotations

import asyncio
import tracemalloc
import uuid

import pytest

from emulator.state.memory import MemoryBackend
from tests.conftest import REDIS_URL, backend_overrides


@pytest.fixture(params=["memory", "redis"])
def make_backend(request):
    """A factory of fresh backends of one kind (on Redis: a prefix of their own, cleared after)."""
    made = []

    def make(prefix: str | None = None):
        if request.param == "memory":
            return MemoryBackend()
        from emulator.state.redis import RedisBackend

        overrides = backend_overrides("redis")
        backend = RedisBackend(overrides["redis_url"], prefix or overrides["redis_prefix"])
        made.append(backend)
        return backend

    yield make


def run(coroutine):
    return asyncio.run(coroutine)


def test_records_round_trip_bytes_and_json_in_first_write_order(make_backend):
    async def scenario():
        state = make_backend()
        await state.put("s", "b", {"n": 1, "text": "é"})
        await state.put("s", "a", b"\x00\xffraw")
        await state.put("s", "b", {"n": 2})  # rewritten: keeps its place
        assert await state.add("s", "a", "other") is False
        assert await state.add("s", "c", [1, None, True]) is True
        items = await state.items("s")
        assert list(items) == ["b", "a", "c"]
        assert items == {"b": {"n": 2}, "a": b"\x00\xffraw", "c": [1, None, True]}
        assert await state.get_many("s", ["c", "zz", "a"]) == [[1, None, True], None, b"\x00\xffraw"]
        assert await state.delete("s", "a") is True and await state.delete("s", "a") is False
        assert await state.get("s", "a") is None and list(await state.items("s")) == ["b", "c"]
        await state.close()

    run(scenario())


def test_update_loses_no_concurrent_change(make_backend):
    async def scenario():
        state = make_backend()

        async def bump(_):
            await state.update("s", "k", lambda current: {"n": (current or {"n": 0})["n"] + 1})

        await asyncio.gather(*(bump(i) for i in range(50)))
        assert await state.get("s", "k") == {"n": 50}
        assert await state.update("s", "k", lambda current: None) is None
        assert await state.get("s", "k") is None
        await state.close()

    run(scenario())


def test_incr_hands_out_every_number_once(make_backend):
    async def scenario():
        state = make_backend()
        got = await asyncio.gather(*(state.incr("ids") for _ in range(100)))
        assert sorted(got) == list(range(1, 101))
        assert await state.incr("ids", 0) == 100 and await state.incr("ids", 5) == 105
        await state.close()

    run(scenario())


def test_logs_read_since_and_back_and_keep_their_numbering(make_backend):
    async def scenario():
        state = make_backend()
        seqs = [await state.append("log", {"i": i}) for i in range(10)]
        assert seqs == list(range(1, 11))
        assert [s for s, _ in await state.read("log", after=7)] == [8, 9, 10]
        assert await state.read("log", after=2, limit=2) == [(3, {"i": 2}), (4, {"i": 3})]
        assert [s for s, _ in await state.read_back("log", limit=3)] == [10, 9, 8]
        assert [s for s, _ in await state.read_back("log", before=3)] == [2, 1]
        assert await state.length("log") == 10
        assert await state.drop("log") == 10 and await state.read("log") == []
        assert await state.append("log", "next") == 11  # never the same number twice
        await state.close()

    run(scenario())


def test_a_log_keeps_its_byte_budget_oldest_out_first(make_backend):
    async def scenario():
        state = make_backend()
        for i in range(20):
            await state.append("log", b"x" * 100 + str(i).encode(), budget=1000)
        kept = await state.read("log")
        # (in this process's memory each entry also counts what holding it costs: fewer fit)
        assert 3 <= len(kept) <= 10 and kept[-1][0] == 20
        assert [s for s, _ in kept] == list(range(21 - len(kept), 21))  # the newest, in a row
        await state.append("log", b"y" * 5000, budget=1000)  # the newest stays, even alone over budget
        assert [s for s, _ in await state.read("log")] == [21]
        await state.close()

    run(scenario())


def test_a_memory_log_holds_no_more_memory_than_its_budget():
    """The budget is what the log holds, measured: an entry that went is let go of at once."""

    async def scenario():
        state = MemoryBackend()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for i in range(3000):  # 30 MB through a 1 MB budget, in entries of every size
                await state.append("log", b"%d" % i + b"x" * (10 + i * 7 % 20_000), budget=1024 * 1024)
            held = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        assert held <= 1.1 * 1024 * 1024, f"{held:,} bytes held for a 1 MB budget"
        assert await state.length("log") > 50

    run(scenario())


def test_clear_empties_everything_but_log_numbering(make_backend):
    async def scenario():
        state = make_backend()
        await state.put("s", "k", 1)
        await state.incr("c")
        await state.append("log", 1)
        await state.clear()
        assert await state.items("s") == {} and await state.incr("c", 0) == 0
        assert await state.read("log") == []
        assert await state.append("log", 2) == 2
        await state.close()

    run(scenario())


@pytest.mark.skipif(not REDIS_URL, reason="needs PARADIGM_TEST_REDIS_URL")
def test_redis_clear_leaves_other_prefixes_alone():
    from emulator.state.redis import RedisBackend

    async def scenario():
        mine = RedisBackend(REDIS_URL, f"mine-{uuid.uuid4().hex[:8]}:")
        theirs = RedisBackend(REDIS_URL, f"theirs-{uuid.uuid4().hex[:8]}:")
        await mine.put("s", "k", "mine")
        await theirs.put("s", "k", "theirs")
        await mine.clear()
        assert await mine.get("s", "k") is None and await theirs.get("s", "k") == "theirs"
        await theirs.clear()
        await mine.close()
        await theirs.close()

    run(scenario())


def test_now_is_a_shared_clock_in_seconds(make_backend):
    async def scenario():
        state = make_backend()
        first = await state.now()
        second = await state.now()
        assert 1.7e9 < first <= second < first + 5
        await state.close()

    run(scenario())


def test_a_backend_keeps_working_from_one_event_loop_to_the_next(make_backend):
    state = make_backend()  # as a test's asyncio.run, then a server's own loop: each gets its own client

    async def write_then_close(text):
        await state.put("s", "k", text)
        await state.close()

    async def read_then_close():
        try:
            return await state.get("s", "k")
        finally:
            await state.close()

    run(write_then_close("first loop"))
    assert run(read_then_close()) == "first loop"
    run(write_then_close("third loop"))
    assert run(read_then_close()) == "third loop"


def test_a_long_log_pages_the_same_after_its_oldest_went(make_backend):
    async def scenario():
        state = make_backend()
        for i in range(3000):
            await state.append("log", {"i": i}, keep=1000)  # 2,000 dropped: the memory log compacts
        assert await state.length("log") == 1000
        assert [s for s, _ in await state.read("log", after=2500, limit=3)] == [2501, 2502, 2503]
        assert [s for s, _ in await state.read_back("log", before=2002, limit=3)] == [2001]
        pages, cursor = [], None
        while batch := await state.read_back("log", cursor, 300):
            pages.append([s for s, _ in batch])
            cursor = batch[-1][0]
        assert [s for page in pages for s in page] == list(range(3000, 2000, -1))
        await state.close()

    run(scenario())
