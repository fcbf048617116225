"""The use counters of fixtures on the state backend: what ``times`` and ``responses`` follow.

A use is an atomic ``incr`` of the fixture's counter, so ``times: 1`` is one use across every
worker. A runtime fixture counts under its uid (it belongs to one test space already); a file
fixture under a key every worker derives alike from the fixture itself, per test space.
"""

from __future__ import annotations

import hashlib
import json

from ..state import Backend
from .fixture import Fixture

FILE_COUNTER = "uses:file:"


def counter_of(fixture: Fixture, space: str | None) -> str:
    """A file fixture counts its uses per test space; a runtime one belongs to one space already."""
    if space is None or not fixture.counter.startswith(FILE_COUNTER):
        return fixture.counter
    return f"{fixture.counter}@{space}"


def counted(files: list[Fixture]) -> list[Fixture]:
    """File fixtures count their uses on the backend too, under a key every worker derives alike
    from the fixture itself: an edited fixture starts again, an untouched one keeps its count."""
    for fixture in files:
        identity = [fixture.source.rsplit(":", 1)[0], fixture.name, fixture.raw]
        digest = hashlib.sha1(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:20]
        fixture.counter = f"{FILE_COUNTER}{digest}"
    return files


async def uses_of(state: Backend, fixtures: list[Fixture], space: str | None = None) -> list[int]:
    """Each fixture's uses so far (at most its ``times``)."""
    counts = [await state.incr(counter_of(f, space), 0) for f in fixtures]
    return [min(c, f.times) if f.times is not None else c for c, f in zip(counts, fixtures, strict=False)]


async def reset_uses(state: Backend, fixtures: list[Fixture], space: str) -> None:
    """The fixtures' counters of one test space back to zero (their first response again)."""
    for fixture in fixtures:
        counter = counter_of(fixture, space)
        used = await state.incr(counter, 0)
        if used:
            await state.incr(counter, -used)
