"""``Users``: API key -> ``User``, for every request (the identify stage) and the control API.

Without ``--users`` every distinct key is a user of its own, alone in a company of its own, so two
keys never share a space. Its ids are derived from the key with a hash (the same key gives the
same user on every worker and every run); the key itself is never shown. With ``--users`` only
the declared keys are users: any other key is refused as the real service refuses an unknown
token (401 ``Invalid token.``).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from pathlib import Path
from typing import Any

from ..errors import AuthenticationFailed
from .users import Company, User
from .users_file import Roster, load_users

IMPLICIT_CACHE = 4096  # implicit users kept made (they are cheap to make again)
IMPLICIT_ID_BASE = 1_000_000  # implicit ids never meet the small ids of a users file


class Users:
    def __init__(self, roster: Roster | None = None):
        self.roster = roster
        self._implicit: OrderedDict[str, User] = OrderedDict()

    @classmethod
    def load(cls, path: Path | None) -> Users:
        return cls(load_users(Path(path)) if path is not None else None)

    @property
    def declared(self) -> bool:
        return self.roster is not None

    def of_key(self, key: str) -> User:
        """The user of an accepted key; with --users an undeclared key is an AuthenticationFailed."""
        if self.roster is not None:
            user = self.roster.by_key.get(key)
            if user is None:
                raise AuthenticationFailed()
            return user
        user = self._implicit.get(key)
        if user is None:
            user = implicit_user(key)
            if len(self._implicit) >= IMPLICIT_CACHE:
                self._implicit.popitem(last=False)
            self._implicit[key] = user
        return user

    def find(self, key: str) -> User | None:
        try:
            return self.of_key(key)
        except AuthenticationFailed:
            return None


def implicit_user(key: str) -> User:
    """A key's own user and company: ids from a hash of the key, never the key."""
    digest = hashlib.sha256(b"paradigm-emulator-user\0" + key.encode("utf-8", "surrogatepass")).digest()
    number = int.from_bytes(digest[:6], "big") % 9_000_000_000 + IMPLICIT_ID_BASE
    tag = digest[:4].hex()
    company = Company(id=number, name=f"Company {tag}")
    return User(id=number, name=f"User {tag}", email=f"user-{tag}@example.com", company=company,
                role="admin", groups=(), implicit=True)


def me_body(user: User, base: dict[str, Any]) -> dict[str, Any]:
    """``GET /api/v3/users/me`` for ``user``: the handler's body (``base``, from the agents file) with
    the caller's profile and company in it."""
    body = dict(base)
    body["profile"] = {**dict(base.get("profile") or {}), "id": user.id, "username": user.email.split("@")[0],
                       "full_name": user.name, "email": user.email}
    body["company"] = {**dict(base.get("company") or {}), "id": user.company.id, "name": user.company.name}
    permissions = dict(base.get("permissions") or {})
    permissions.update({"is_admin": user.is_admin, "has_monitoring_permission": user.is_admin})
    body["permissions"] = permissions
    return body
