"""Workspaces and tags as records: their types, the shipped fixtures/workspaces.yaml that seeds them
(``Seed``), and the scope flags that select them. ``documents/workspace_store.py`` keeps them in the
state backend, per user and company. (--fixtures-dir is not read here: every YAML file there is a
scripted-answer fixture.)
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..config import DEFAULT_FIXTURES_DIR, Settings
from ..yaml_reader import read_mapping

FILE_NAME = "workspaces.yaml"
WORKSPACE_TYPES = ("personal", "company", "custom")
UPLOAD_METHODS = ("manual", "synced")
ROLES = ("owner", "editor", "viewer")
# v2's collection_type for each workspace type, and back.
COLLECTION_TYPES = {"personal": "private", "company": "company", "custom": "workspace"}
# The emulator's one user's role in each kind of seeded workspace (one they create, they own).
DEFAULT_ROLES = {"personal": "owner", "company": "viewer", "custom": "editor"}


@dataclass(frozen=True)
class Workspace:
    id: int
    name: str
    workspace_type: str
    description: str = ""
    document_upload_method: str = "manual"
    user_role: str = "owner"
    created_at: int = 0  # Unix seconds
    updated_at: int = 0
    members: dict[str, list] = field(default_factory=lambda: {"users": [1], "groups": []})
    owner: dict[str, Any] = field(default_factory=dict)  # who it belongs to (identity/ownership.py)

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "workspace_type": self.workspace_type}

    def value(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def of(cls, value: Any) -> Workspace:
        return cls(**value)

    def replace(self, **changes: Any) -> Workspace:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Tag:
    id: int
    name: str
    description: str
    auto_assign: bool  # may the system assign it (the older docs' `artificial`)
    created_at: int
    updated_at: int = 0
    owner: dict[str, Any] = field(default_factory=dict)  # the company that made it (none: a seeded tag)

    def value(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def of(cls, value: Any) -> Tag:
        return cls(**value)


@lru_cache(maxsize=256)  # a second's stamp is written by every turn, thread and file made in it
def iso(seconds: int) -> str:
    """Unix seconds -> the ISO 8601 form DRF writes (UTC, ``Z``)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def scoped_types(private: Any, company: Any, workspace: Any) -> set[str]:
    """Paradigm's scope flags -> the workspace types they select: any flag set to true keeps only the
    spaces flagged true; a flag set to false removes its space; no flag at all selects everything."""
    flags = {"personal": private, "company": company, "custom": workspace}
    chosen = {kind for kind, flag in flags.items() if flag is True} or set(flags)
    return {kind for kind in chosen if flags[kind] is not False}


@dataclass(frozen=True)
class Seed:
    """What fixtures/workspaces.yaml holds (read once, at start-up)."""

    company: str
    workspaces: tuple[Workspace, ...]
    tags: tuple[Tag, ...]

    @classmethod
    def load(cls, settings: Settings,
             paths: tuple[Path, ...] = (DEFAULT_FIXTURES_DIR / FILE_NAME,)) -> Seed:
        """Later files add workspaces and tags to earlier ones, or replace those with the same id."""
        company = "Company"
        workspaces: dict[int, Workspace] = {}
        tags: dict[int, Tag] = {}
        for path in paths:
            if not path.is_file():
                continue
            document = _read(path)
            company = str(document.get("company") or company)
            for number, entry in enumerate(document.get("workspaces") or [], 1):
                workspace = _workspace(entry, f"{path}: workspace #{number}", settings.epoch)
                workspaces[workspace.id] = workspace
            for number, entry in enumerate(document.get("tags") or [], 1):
                tag = _tag(entry, f"{path}: tag #{number}", settings.epoch)
                tags[tag.id] = tag
        # Without any fixture, the two workspaces v2's collection_type needs.
        for kind, name in (("personal", "Personal"), ("company", company)):
            if not any(w.workspace_type == kind for w in workspaces.values()):
                new_id = max(workspaces, default=0) + 1
                workspaces[new_id] = Workspace(new_id, name, kind, user_role=DEFAULT_ROLES[kind],
                                               created_at=settings.epoch)
        for kind in ("personal", "company"):
            found = [w for w in workspaces.values() if w.workspace_type == kind]
            if len(found) != 1:
                raise ValueError(f"{FILE_NAME}: expected exactly one {kind} workspace, found {len(found)}")
        return cls(company, tuple(sorted(workspaces.values(), key=lambda w: w.id)),
                   tuple(sorted(tags.values(), key=lambda t: t.id)))


def _read(path: Path) -> dict:
    return read_mapping(path, "a mapping with 'workspaces:' and 'tags:' lists")  # a YamlError is a ValueError


def _workspace(entry: Any, where: str, epoch: int) -> Workspace:
    if not isinstance(entry, dict) or not isinstance(entry.get("id"), int) or not entry.get("name"):
        raise ValueError(f"{where}: needs an integer id and a name, got {entry!r}")
    kind = entry.get("workspace_type", "custom")
    if kind not in WORKSPACE_TYPES:
        raise ValueError(f"{where}: workspace_type must be one of {', '.join(WORKSPACE_TYPES)}, got {kind!r}")
    method = entry.get("document_upload_method", "manual")
    if method not in UPLOAD_METHODS:
        raise ValueError(f"{where}: document_upload_method must be one of {', '.join(UPLOAD_METHODS)}, "
                         f"got {method!r}")
    role = entry.get("user_role", DEFAULT_ROLES[kind])
    if role not in ROLES:
        raise ValueError(f"{where}: user_role must be one of {', '.join(ROLES)}, got {role!r}")
    return Workspace(entry["id"], str(entry["name"]), kind, str(entry.get("description") or ""), method, role,
                     epoch, epoch)


def _tag(entry: Any, where: str, epoch: int) -> Tag:
    # `name` and `auto_assign` as the newer docs write them; `tag` and `artificial` as the older did.
    name = entry.get("name", entry.get("tag")) if isinstance(entry, dict) else None
    if not isinstance(entry, dict) or not isinstance(entry.get("id"), int) or not name:
        raise ValueError(f"{where}: needs an integer id and a name, got {entry!r}")
    auto_assign = entry.get("auto_assign", entry.get("artificial", False))
    # Tags exist before any file: an hour before the epoch, one second apart, in id order.
    created = epoch - 3600 + entry["id"]
    return Tag(entry["id"], str(name), str(entry.get("description") or ""), bool(auto_assign),
               created, created)
