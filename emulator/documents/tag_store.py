"""``TagStore``: the tags, each company's own over the seeded ones (``identity/overlay.py``).

The tags of fixtures/workspaces.yaml are every company's, and read-only: a company that deletes one
deletes its own copy, the others still see it. A tag made at run time is its company's alone. The
records:

    tags/<company id>        id -> a tag the company made (``Tag.value()``), or the mark of a seeded
                             tag it deleted
    tag-names/<company id>   a tag's lowercased name -> true: the unique index that makes a second
                             creation of one name in a company fail (on every worker)
    tag-ids                  the counter new ids come from (after the seed's: a deleted tag's id is
                             never given again)

Names are unique within a company, against the seeded tags it still sees too: two companies may
each make an ``urgent`` tag.
"""

from __future__ import annotations

from ..identity.overlay import Overlay, company_of
from ..identity.ownership import COMPANY, owner_fields
from ..identity.users import User
from ..state import Backend
from .workspaces import Tag

TAGS, TAG_NAMES, TAG_IDS = "tags", "tag-names", "tag-ids"


class TagStore:
    """The tags, over the state backend, as each company sees them."""

    def __init__(self, state: Backend, seed: tuple[Tag, ...], epoch: int):
        self.state, self.epoch = state, epoch
        self.catalog = Overlay(state, TAGS, {str(t.id): t.value() for t in seed})
        self.names = Overlay(state, TAG_NAMES, {})
        self.highest_seed = max((t.id for t in seed), default=0)

    async def tags(self, user: User | None) -> dict[int, Tag]:
        """The tags ``user``'s company sees (the seeded ones it kept, and its own), by id, in id order."""
        found = [Tag.of(v) for v in (await self.catalog.items(company_of(user))).values()]
        return {t.id: t for t in sorted(found, key=lambda t: t.id)}

    async def create(self, name: str, description: str, auto_assign: bool, user: User | None) -> Tag | None:
        """A new tag of the caller's company; None when the company already sees one of that name
        (names are unique, ignoring case)."""
        company = company_of(user)
        folded = name.lower()
        if any(t.name.lower() == folded for t in (await self.tags(user)).values()):
            return None
        if not await self.names.add(company, folded, True):
            return None
        current = await self.state.next_id(TAG_IDS, 0)
        if current < self.highest_seed:  # new ids start after the seed's
            await self.state.incr(TAG_IDS, self.highest_seed - current)
        while True:
            new_id = await self.state.next_id(TAG_IDS)
            created = self.epoch + new_id
            tag = Tag(new_id, name, description, auto_assign, created, created, owner_fields(user, COMPANY))
            if await self.catalog.add(company, str(new_id), tag.value()):
                return tag

    async def delete(self, tag_id: int, user: User | None) -> bool:
        """Delete a tag for the caller's company; -> whether it saw it."""
        company = company_of(user)
        value = await self.catalog.get(company, str(tag_id))
        if value is None or not await self.catalog.delete(company, str(tag_id)):
            return False
        await self.names.delete(company, Tag.of(value).name.lower())
        return True

    async def drop_company(self, company_id: int) -> int:
        """A space's reset: the company's tags and deletions go (the seeded tags come back); -> how many."""
        await self.names.drop(company_id)
        return await self.catalog.drop(company_id)
