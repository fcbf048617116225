"""What a user may see of a stored item: its owner's alone (private), its company's, or (a file of
a custom workspace made at run time) the workspace members' among its company's users.

A handler that stores an item for the caller writes ``owner_fields(call.user, scope)`` into the
record; one that lists, finds, reads, changes or deletes items keeps those ``visible(record, user)``
and answers another user's item as if it did not exist (DRF's 404 ``Not found.``, never a 403).
The members of a workspace change: ``visible`` keeps a workspace-scope item for every user of its
company, and the file store narrows that to the workspace's members at the time of reading.
A record without owner fields (loaded from a fixture file, or stored before owners were kept) is
visible to everyone: what the shipped fixtures seed is shared by every key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from ..errors import NotFound
from ..state import Backend
from .users import User

PRIVATE, COMPANY, WORKSPACE = "private", "company", "workspace"
SCOPES = (PRIVATE, COMPANY, WORKSPACE)
SHARED = (COMPANY, WORKSPACE)  # the scopes a user's colleagues may see
OWNER, OWNER_COMPANY, SCOPE = "owner_id", "owner_company_id", "owner_scope"
OWNER_KEYS = (OWNER, OWNER_COMPANY, SCOPE)
R = TypeVar("R", bound=Mapping[str, Any])


def owner_fields(user: User | None, scope: str = PRIVATE) -> dict[str, Any]:
    """The fields a record keeps of who owns it (nothing when no user is known: an unsecured call)."""
    if user is None:
        return {}
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}, got {scope!r}")
    return {OWNER: user.id, OWNER_COMPANY: user.company.id, SCOPE: scope}


def created_by(user: User | None) -> dict[str, Any] | None:
    """A v3 object's ``created_by`` for a user of ``--users`` (None for a key's implicit user: the
    emulator's one user stands in, as without ``--users``)."""
    if user is None or user.implicit:
        return None
    first, _, last = user.name.partition(" ")
    return {"id": user.id, "first_name": first, "last_name": last, "username": user.email.split("@")[0]}


def visible(record: Mapping[str, Any], user: User | None) -> bool:
    """Private items to their owner, company (and workspace) items to every user of the company,
    unowned ones to all."""
    owner = record.get(OWNER)
    if owner is None or user is None:
        return True
    if record.get(OWNER_COMPANY) != user.company.id:
        return False
    return record.get(SCOPE, PRIVATE) in SHARED or owner == user.id


def owner_of(record: Mapping[str, Any]) -> dict[str, Any]:
    """The owner fields a record holds (to copy them onto what is made from it)."""
    return {key: record[key] for key in OWNER_KEYS if key in record}


def only_visible(records: Iterable[R], user: User | None) -> list[R]:
    return [record for record in records if visible(record, user)]


def require_visible(record: R | None, user: User | None) -> R:
    """The record, or the 404 DRF answers for an object that is not there (another user's included)."""
    if record is None or not visible(record, user):
        raise NotFound()
    return record


async def drop_company_records(state: Backend, space: str, company_id: int) -> int:
    """Remove every record of ``space`` whose ``owner`` is a user of the company (a test space's
    reset); -> how many."""
    dropped = 0
    for key, value in (await state.items(space)).items():
        if isinstance(value, dict) and (value.get("owner") or {}).get(OWNER_COMPANY) == company_id:
            dropped += await state.delete(space, key)
    return dropped
