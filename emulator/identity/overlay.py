"""``Overlay``: a read-only seeded catalog and, over it, each company's own copy (copy on write).

What the fixture files seed (the shipped custom workspaces, tags and agents) is the same for every
company and is never written. What a company changes of a seeded item, the items it creates and the
seeded items it deletes are records of a space of its own in the state backend, so every worker and
both backends see them and no other company does::

    <name>/<company id>    key -> the company's copy of an item, or DELETED (a seeded item it deleted)

A space's reset (``drop``) removes the company's records: the seeds come back as they were for that
company alone. A call without a user (an unsecured operation) has a copy of its own, ``-``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..state import Backend, Value
from .users import User

DELETED: dict[str, Any] = {"~deleted": True}  # a seeded item the company deleted
NOBODY = "-"  # the company key of a call without a user


def company_of(user: User | None) -> int | None:
    """The company whose copy ``user`` reads and writes (None: a call without a user)."""
    return None if user is None else user.company.id


class Overlay:
    """The seeds (key -> value), and each company's copies over them."""

    def __init__(self, state: Backend, name: str, seeds: Mapping[str, Value]):
        self.state, self.name = state, name
        self.seeds = dict(seeds)

    def space(self, company: int | None) -> str:
        return f"{self.name}/{NOBODY if company is None else company}"

    async def get(self, company: int | None, key: str) -> Value | None:
        """The item as the company sees it: its copy, else the seed (None: absent, or deleted)."""
        own = await self.state.get(self.space(company), key)
        if own is None:
            return self.seeds.get(key)
        return None if own == DELETED else own

    async def items(self, company: int | None) -> dict[str, Value]:
        """Every item the company sees: the seeds (its copies in their place), then what it created, in
        the order it created them."""
        own = await self.state.items(self.space(company))
        merged = {key: own.get(key, seed) for key, seed in self.seeds.items()}
        merged.update((key, value) for key, value in own.items() if key not in self.seeds)
        return {key: value for key, value in merged.items() if value != DELETED}

    async def add(self, company: int | None, key: str, value: Value) -> bool:
        """A new item of the company (never over a seed's key); -> whether it was written."""
        if key in self.seeds:
            return False
        return await self.state.add(self.space(company), key, value)

    async def update(self, company: int | None, key: str,
                     change: Callable[[Value], Value]) -> Value | None:
        """Atomic edit of the company's copy (made from the seed at its first change); ``change`` must be
        pure. -> the new value, or None when the company does not see the item."""
        seed = self.seeds.get(key)

        def apply(current: Value | None) -> Value | None:
            base = seed if current is None else current
            if base is None or base == DELETED:
                return current
            return change(base)

        value = await self.state.update(self.space(company), key, apply)
        return None if value is None or value == DELETED else value

    async def delete(self, company: int | None, key: str) -> bool:
        """Remove the item for the company (a seed is marked deleted); -> whether it saw it."""
        if key not in self.seeds:
            return await self.state.delete(self.space(company), key)
        if await self.get(company, key) is None:
            return False
        await self.state.put(self.space(company), key, DELETED)
        return True

    async def drop(self, company: int | None) -> int:
        """Remove every copy, creation and deletion of the company; -> how many records went."""
        space = self.space(company)
        dropped = 0
        for key in await self.state.items(space):
            dropped += await self.state.delete(space, key)
        return dropped
