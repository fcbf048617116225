"""The inspector's view of the test spaces: every company declared in ``--users`` or met in the
journal, its users, and how many requests each made (in all, and since the space's last reset).

A space is a company's (emulator/spaces.py). Without ``--users`` a key's user and company are
known only by their ids (derived from the key, which is never shown): they appear here once the
journal holds one of their requests. The journal is read a page at a time from its stored bytes,
and only the ``user`` and ``company`` ids of each entry are looked at.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from ..identity.directory import Users
from ..identity.users import Company, User
from ..journal import Journal
from ..spaces import Spaces
from ..tap import shown

# The ids of an entry: the first match is the entry's own (a JSON string holds no bare ``,"``).
_IDS = re.compile(rb'"user":(null|\d+),"company":(null|\d+)')


def ids_of(raw: bytes) -> tuple[int | None, int | None]:
    """An entry's stored bytes -> its (user id, company id), either None when no key was given."""
    found = _IDS.search(raw)
    if found is None:  # another layout of the entry: read it whole
        entry = json.loads(shown(raw))
        return entry.get("user"), entry.get("company")
    user, company = found.groups()
    return (None if user == b"null" else int(user)), (None if company == b"null" else int(company))


@dataclass
class _Seen:
    company: Company | None = None
    declared: list[User] = field(default_factory=list)
    users: dict[int, list[int]] = field(default_factory=dict)  # user id -> the seqs of its requests


class SpacesView:
    """``spaces(only)``: what the Spaces panel shows (``only``: one space, the one a key addresses)."""

    def __init__(self, journal: Journal, users: Users, spaces: Spaces):
        self.journal, self.users, self.cursors = journal, users, spaces

    async def spaces(self, only: str | None = None) -> dict[str, Any]:
        seen: dict[int, _Seen] = {}
        roster = self.users.roster
        if roster is not None:
            for company in roster.companies:
                seen[company.id] = _Seen(company)
            for user in roster.by_key.values():
                seen.setdefault(user.company.id, _Seen(user.company)).declared.append(user)
        anonymous = 0
        async for batch in self.journal.pages(newest_first=False):
            for seq, raw in batch:
                user_id, company_id = ids_of(raw)
                if company_id is None:
                    anonymous += 1
                    continue
                found = seen.setdefault(company_id, _Seen())
                found.users.setdefault(user_id if user_id is not None else 0, []).append(seq)
        shown = []
        for company_id, found in seen.items():
            space = found.company.space if found.company else f"c{company_id}"
            if only is not None and space != only:
                continue
            shown.append(await self._space(company_id, space, found))
        # Declared companies in file order first, then the others, most recently active first.
        shown.sort(key=lambda s: (not s["declared"], -(s["last_seq"] or 0) if not s["declared"] else 0))
        return {"declared": roster is not None, "space": only, "spaces": shown,
                "without_key": anonymous if only is None else 0}

    async def _space(self, company_id: int, space: str, found: _Seen) -> dict[str, Any]:
        after = await self.cursors.journal_after(space)
        users = []
        for user in found.declared:
            seqs = found.users.pop(user.id, [])
            users.append({"id": user.id, "name": user.name, "email": user.email, "role": user.role,
                          "declared": True, **_counts(seqs, after)})
        for user_id, seqs in sorted(found.users.items()):
            users.append({"id": user_id, "name": None, "email": None, "role": None, "declared": False,
                          **_counts(seqs, after)})
        company = found.company
        return {"space": space, "company": {"id": company_id, "name": company.name if company else None},
                "declared": company is not None, "users": users,
                "requests": sum(u["requests"] for u in users),
                "since_reset": sum(u["since_reset"] for u in users),
                "last_seq": max((u["last_seq"] or 0 for u in users), default=0) or None,
                "journal_after": after}


def _counts(seqs: list[int], after: int) -> dict[str, Any]:
    return {"requests": len(seqs), "since_reset": sum(1 for s in seqs if s > after),
            "last_seq": seqs[-1] if seqs else None}
