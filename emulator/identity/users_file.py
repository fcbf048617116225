"""The ``--users FILE`` YAML: several API keys in one company, with a role, groups and rate limits::

    companies:
      - {id: 10, name: Acme}
    users:
      - {key: alice-key, id: 101, name: Alice, email: alice@acme.test, company: Acme,
         role: admin, groups: [Everyone], rate_limits: {rpm: 5, tpm: 2000}}

A user's ``company`` names a company by ``name`` or ``id``. A duplicate key, a company that is
not declared and an unknown field each stop start-up with ``file:line`` and the valid names.
The key itself is a credential: it is never shown in any output (the journal, the control API,
the metrics); a user is shown by id.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import StartupError
from ..scripts.loading import FixtureError, Locator, load_yaml
from .users import Company, RateLimits, User

ROLES = ("admin", "member")
USER_FIELDS = ("key", "id", "name", "email", "company", "role", "groups", "rate_limits")
COMPANY_FIELDS = ("id", "name")
LIMIT_FIELDS = ("rpm", "tpm")
TOP_FIELDS = ("companies", "users")
MAX_USERS_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class Roster:
    """The users of a ``--users`` file, by key; and its companies."""

    by_key: Mapping[str, User]
    companies: tuple[Company, ...]


def load_users(path: Path) -> Roster:
    """The users file -> a ``Roster``; a ``StartupError`` naming ``file:line`` for anything wrong."""
    label = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise StartupError(f"--users {path}: {exc.strerror or exc}") from None
    try:
        document, node = load_yaml(text, label, MAX_USERS_BYTES)
    except FixtureError as exc:
        raise StartupError(str(exc)) from None
    at = Locator(label, node)

    def fail(where: Iterable[Any], message: str) -> StartupError:
        return StartupError(f"{at.where(list(where)) or label + ':1'}: {message}")

    if not isinstance(document, dict):
        raise fail([], "expected a mapping with 'companies:' and 'users:'")
    _known(document, TOP_FIELDS, [], "top-level key", fail)
    companies = _companies(document.get("companies") or [], fail)
    raw_users = document.get("users")
    if not isinstance(raw_users, list) or not raw_users:
        raise fail(["users"] if "users" in document else [], "expected a non-empty 'users:' list")
    by_key: dict[str, User] = {}
    where_key: dict[str, str] = {}
    ids: set[int] = set()
    for index, raw in enumerate(raw_users):
        here = ["users", index]
        if not isinstance(raw, dict):
            raise fail(here, "a user is a mapping (key, id, name, email, company ...)")
        _known(raw, USER_FIELDS, here, "user field", fail)
        key = raw.get("key")
        if not isinstance(key, str) or not key.strip() or " " in key.strip():
            raise fail([*here, "key"] if "key" in raw else here,
                       "a user needs a key: a string without spaces")
        key = key.strip()
        if key in by_key:
            raise fail([*here, "key"], f"duplicate key: the same key is given to user #{where_key[key]}")
        user_id = raw.get("id", 1000 + index + 1)
        if not isinstance(user_id, int) or isinstance(user_id, bool) or user_id < 1:
            raise fail([*here, "id"], f"id must be a whole number >= 1, got {user_id!r}")
        if user_id in ids:
            raise fail([*here, "id"], f"duplicate user id {user_id}")
        company = _company_of(raw, companies, [*here, "company"], fail)
        role = raw.get("role", "member")
        if role not in ROLES:
            raise fail([*here, "role"], f"role must be one of {', '.join(ROLES)}, got {role!r}")
        groups = raw.get("groups") or []
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise fail([*here, "groups"], "groups is a list of group names")
        name = str(raw.get("name") or f"User {user_id}")
        by_key[key] = User(id=user_id, name=name, email=str(raw.get("email") or f"user{user_id}@example.com"),
                           company=company, role=role, groups=tuple(groups),
                           limits=_limits(raw.get("rate_limits"), [*here, "rate_limits"], fail))
        where_key[key] = str(index + 1)
        ids.add(user_id)
    return Roster(by_key, tuple(companies.values()))


def _companies(raw: Any, fail: Any) -> dict[str, Company]:
    if not isinstance(raw, list):
        raise fail(["companies"], "expected a list of companies ({id, name})")
    found: dict[str, Company] = {}
    for index, entry in enumerate(raw):
        here = ["companies", index]
        if not isinstance(entry, dict):
            raise fail(here, "a company is a mapping {id, name}")
        _known(entry, COMPANY_FIELDS, here, "company field", fail)
        company_id, name = entry.get("id"), entry.get("name")
        if not isinstance(company_id, int) or isinstance(company_id, bool) or company_id < 1:
            raise fail([*here, "id"] if "id" in entry else here,
                       f"a company needs an id >= 1, got {company_id!r}")
        if not isinstance(name, str) or not name:
            raise fail([*here, "name"] if "name" in entry else here, "a company needs a name")
        if name in found or any(c.id == company_id for c in found.values()):
            raise fail(here, f"duplicate company {name!r} (id {company_id})")
        found[name] = Company(company_id, name)
    return found


def _company_of(raw: dict[str, Any], companies: dict[str, Company], here: list[Any], fail: Any) -> Company:
    ref = raw.get("company")
    if ref is None:
        if len(companies) == 1:
            return next(iter(companies.values()))
        raise fail(here[:-1], f"a user needs a company: one of {_names(companies)}")
    for company in companies.values():
        if ref == company.name or ref == company.id:
            return company
    raise fail(here, f"unknown company {ref!r}; the companies are {_names(companies)}")


def _limits(raw: Any, here: list[Any], fail: Any) -> RateLimits:
    if raw is None:
        return RateLimits()
    if not isinstance(raw, dict):
        raise fail(here, "rate_limits is a mapping {rpm, tpm}")
    _known(raw, LIMIT_FIELDS, here, "rate_limits field", fail)
    values = {}
    for name in LIMIT_FIELDS:
        value = raw.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise fail([*here, name], f"{name} must be a whole number >= 1, got {value!r}")
        values[name] = value
    return RateLimits(**values)


def _known(raw: dict[str, Any], allowed: tuple[str, ...], here: list[Any], what: str, fail: Any) -> None:
    for key in raw:
        if key not in allowed:
            raise fail([*here, key], f"unknown {what} {key!r}; the valid ones are {', '.join(allowed)}")


def _names(companies: dict[str, Company]) -> str:
    names = ", ".join(f"{c.name!r} (id {c.id})" for c in companies.values())
    return names or "none (add a 'companies:' list)"
