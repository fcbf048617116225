"""The overlay over a seeded catalog: a company's changes, creations and deletions are its own, the
seeds are never written, and a company's drop brings them back for it alone."""

from __future__ import annotations

import asyncio

from emulator.identity.overlay import Overlay
from emulator.state.memory import MemoryBackend

SEEDS = {"1": {"id": 1, "name": "Legal"}, "2": {"id": 2, "name": "Engineering"}}


def test_each_company_changes_its_own_copy_and_the_seeds_stay() -> None:
    state = MemoryBackend()
    overlay = Overlay(state, "things", SEEDS)

    async def scenario() -> tuple:
        await overlay.update(10, "1", lambda v: {**v, "name": "Acme legal"})
        await overlay.delete(10, "2")
        assert await overlay.add(10, "3", {"id": 3, "name": "Deals"})
        assert not await overlay.add(10, "1", {"id": 1, "name": "Over a seed"})
        return await overlay.items(10), await overlay.items(20), await state.items("things")

    acme, globex, unscoped = asyncio.run(scenario())
    assert acme == {"1": {"id": 1, "name": "Acme legal"}, "3": {"id": 3, "name": "Deals"}}
    assert globex == SEEDS and unscoped == {}
    assert SEEDS["1"]["name"] == "Legal"


def test_a_drop_brings_the_seeds_back_for_one_company() -> None:
    overlay = Overlay(MemoryBackend(), "things", SEEDS)

    async def scenario() -> tuple:
        for company in (10, 20):
            await overlay.delete(company, "1")
        dropped = await overlay.drop(10)
        changed = await overlay.update(20, "1", lambda v: {**v, "name": "Back?"})
        return dropped, await overlay.get(10, "1"), await overlay.get(20, "1"), changed

    dropped, acme, globex, changed = asyncio.run(scenario())
    assert (dropped, acme, globex, changed) == (1, SEEDS["1"], None, None)
