"""The runtime fixtures as the state backend holds them, shared by every worker.

Two records in the ``fixtures`` space: ``runtime``, the list of raw fixture dicts with their uid,
source and test space (``RuntimeEntry``), and ``version``, a token changed on every edit and a
generation changed on every reset. Each edit is one ``update`` of a record, so two workers that
add fixtures at once both keep theirs. The registry (``registry.Scripts``) compiles the list and
checks the version on every request.
"""

from __future__ import annotations

import uuid
from typing import Any, TypedDict

from ..operations import OperationNames
from ..state import Backend, Value
from .fixture import Fixture
from .loading import compile_fixture

SPACE = "fixtures"
UIDS = "fixture-uids"  # the counter of runtime fixtures' uids


class _Entry(TypedDict):
    uid: int
    fixture: dict[str, Any]  # the fixture format's dict, its name always set
    source: str


class RuntimeEntry(_Entry, total=False):
    """A runtime fixture as the backend holds it (in ``fixtures/runtime``'s list)."""

    space: str | None  # the test space it answers (a key's company); None or absent: every space


def _record(value: Value | None) -> dict[str, Any]:
    """A record of this space (a dict, written only here), or {} when there is none."""
    return value if isinstance(value, dict) else {}


def _entries(current: Value | None) -> list[RuntimeEntry]:
    """The runtime fixtures of a ``fixtures/runtime`` record (none when there is no record)."""
    return list(_record(current).get("fixtures", []))


class RuntimeRecords:
    """The ``fixtures/runtime`` and ``fixtures/version`` records of one backend."""

    def __init__(self, state: Backend):
        self.state = state

    async def last_uid(self) -> int:
        """The last uid given (0 before the first)."""
        return await self.state.next_id(UIDS, 0)

    async def new_uids(self, count: int) -> range:
        """``count`` uids of a shared counter (the names of unnamed fixtures too): never the same twice."""
        last = await self.state.next_id(UIDS, count)
        return range(last - count + 1, last + 1)

    async def entries(self) -> list[RuntimeEntry]:
        return _entries(await self.state.get(SPACE, "runtime"))

    async def version(self) -> dict[str, Any]:
        """The version record, read only after a published change on Redis (``get_watched``)."""
        return _record(await self.state.get_watched(SPACE, "version"))

    async def put(self, added: list[RuntimeEntry], space: str | None) -> None:
        """Append the entries; one of the same name and space is replaced in place."""

        def change(current: Value | None) -> Value:
            kept = _entries(current)
            for entry in added:
                name = entry["fixture"]["name"]
                same = next((i for i, e in enumerate(kept)
                             if e["fixture"]["name"] == name and e.get("space") == space), None)
                if same is None:
                    kept.append(entry)
                else:
                    kept[same] = entry
            return {"fixtures": kept}

        await self.state.update(SPACE, "runtime", change)

    async def remove(self, name: str, space: str | None) -> list[RuntimeEntry]:
        """Remove the entries of that name (of ``space``, when given); -> those removed."""
        found: list[RuntimeEntry] = []

        def gone(entry: RuntimeEntry) -> bool:
            return bool(entry["fixture"]["name"] == name and (space is None or entry.get("space") == space))

        def change(current: Value | None) -> Value:
            kept = _entries(current)
            found[:] = [e for e in kept if gone(e)]
            return {"fixtures": [e for e in kept if not gone(e)]}

        await self.state.update(SPACE, "runtime", change)
        return found

    async def clear(self, space: str | None) -> int:
        """Remove every entry (of ``space`` only, when given); -> how many."""
        count: list[int] = []

        def change(current: Value | None) -> Value:
            kept = _entries(current)
            left = [e for e in kept if space is not None and e.get("space") != space]
            count.append(len(kept) - len(left))
            return {"fixtures": left} if left else None

        await self.state.update(SPACE, "runtime", change)
        return count[-1] if count else 0

    async def bump(self, generation: bool = False) -> None:
        """A new version token (and, with ``generation``, a new generation: a reset)."""
        token = uuid.uuid4().hex

        def change(current: Value | None) -> Value:
            old = _record(current)
            return {"token": token, "generation": token if generation else old.get("generation")}

        await self.state.update(SPACE, "version", change)


def compile_entry(entry: RuntimeEntry, operations: OperationNames) -> Fixture:
    """A runtime entry -> its Fixture, counting its uses under its uid."""
    fixture = compile_fixture(entry["fixture"], entry["fixture"]["name"], operations)
    fixture.source = entry.get("source") or "runtime"
    fixture.counter = f"uses:{entry['uid']}"
    fixture.space = entry.get("space")
    return fixture


def compile_entries(entries: list[RuntimeEntry], cache: dict[int, Fixture], operations: OperationNames
                    ) -> tuple[dict[int, Fixture], list[Fixture]]:
    """-> (the entries' Fixtures by uid, the same in the entries' order), reusing those of ``cache``."""
    runtime = []
    compiled: dict[int, Fixture] = {}
    for entry in entries:
        uid = entry["uid"]
        fixture = cache.get(uid)
        if fixture is None:
            fixture = compile_entry(entry, operations)
        compiled[uid] = fixture
        runtime.append(fixture)
    return compiled, runtime
