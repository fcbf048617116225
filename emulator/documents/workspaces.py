"""Workspaces and tags: records in the state backend, seeded from the shipped fixtures/workspaces.yaml.

They are mutable (v3 creates and edits workspaces, creates and deletes tags), so they live in the
backend like files do, and every worker sees the same ones:

    workspaces   id -> Workspace.value()
    tags         id -> Tag.value()
    tag-names    a tag's name, lowercased -> true: the unique index that makes two creations of one
                 name fail the second
    directory    "seeded" -> true once the fixtures are in (a reset clears it; the next use seeds again)

Seeding writes each fixture record only where its id is absent, and is done once per backend: a
restart on a persistent backend (Redis) keeps what users changed and never duplicates anything.
New ids come from a shared counter that starts after the fixtures' ids, and are written with
``add`` (only when absent), so no id is ever given twice. Every file lives in one workspace; a personal and a
company workspace always exist, because v2's ``collection_type`` (``private`` / ``company``) names
them without an id. (--fixtures-dir is not read here: every YAML file there is a scripted-answer
fixture.)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..config import DEFAULT_FIXTURES_DIR, Settings
from ..state import Backend
from ..yaml_reader import read_mapping

FILE_NAME = "workspaces.yaml"
WORKSPACE_TYPES = ("personal", "company", "custom")
UPLOAD_METHODS = ("manual", "synced")
ROLES = ("owner", "editor", "viewer")
# v2's collection_type for each workspace type, and back.
COLLECTION_TYPES = {"personal": "private", "company": "company", "custom": "workspace"}
WORKSPACES, TAGS, TAG_NAMES, MARKS = "workspaces", "tags", "tag-names", "directory"
WORKSPACE_IDS, TAG_IDS = "workspace-ids", "tag-ids"
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

    def value(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def of(cls, value: Any) -> Tag:
        return cls(**value)


def iso(seconds: int) -> str:
    """Unix seconds -> the ISO 8601 form DRF writes (UTC, ``Z``)."""
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


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


class Directory:
    """The workspaces and tags, over the state backend."""

    def __init__(self, state: Backend, seed: Seed, epoch: int):
        self.state = state
        self.seed_data = seed
        self.company = seed.company
        self.epoch = epoch

    @classmethod
    def load(cls, state: Backend, settings: Settings) -> Directory:
        return cls(state, Seed.load(settings), settings.epoch)

    async def seed(self) -> None:
        """Write the fixtures' workspaces and tags where their ids are absent, once per backend."""
        if await self.state.get(MARKS, "seeded"):
            return
        for workspace in self.seed_data.workspaces:
            await self.state.add(WORKSPACES, str(workspace.id), workspace.value())
        for tag in self.seed_data.tags:
            if await self.state.add(TAGS, str(tag.id), tag.value()):
                await self.state.add(TAG_NAMES, tag.name.lower(), True)
        # New ids start after the fixtures' (a deleted fixture tag's id is never given again).
        for counter, records in ((WORKSPACE_IDS, self.seed_data.workspaces), (TAG_IDS, self.seed_data.tags)):
            highest = max((r.id for r in records), default=0)
            current = await self.state.next_id(counter, 0)
            if current < highest:
                await self.state.incr(counter, highest - current)
        await self.state.put(MARKS, "seeded", True)

    # -- workspaces ---------------------------------------------------------------------------------

    async def workspaces(self) -> dict[int, Workspace]:
        """Every workspace, by id, in id order."""
        await self.seed()
        found = [Workspace.of(v) for v in (await self.state.items(WORKSPACES)).values()]
        return {w.id: w for w in sorted(found, key=lambda w: w.id)}

    async def workspace(self, workspace_id: Any) -> Workspace | None:
        if not isinstance(workspace_id, int) or isinstance(workspace_id, bool):
            return None
        await self.seed()
        value = await self.state.get(WORKSPACES, str(workspace_id))
        return None if value is None else Workspace.of(value)

    async def of_type(self, kind: str) -> Workspace:
        """The personal or the company workspace (there is exactly one of each)."""
        for workspace in (await self.workspaces()).values():
            if workspace.workspace_type == kind:
                return workspace
        # Only a backend edited by hand lacks one: the fixtures' is given back.
        return next(w for w in self.seed_data.workspaces if w.workspace_type == kind)

    async def personal(self) -> Workspace:
        return await self.of_type("personal")

    async def company_workspace(self) -> Workspace:
        return await self.of_type("company")

    async def create_workspace(self, name: str, description: str, document_upload_method: str = "manual",
                               members: dict[str, list] | None = None) -> Workspace:
        await self.seed()
        while True:
            new_id = await self.state.next_id(WORKSPACE_IDS)
            created = self.epoch + new_id  # later than the fixtures' (the epoch), one second per id
            workspace = Workspace(new_id, name, "custom", description, document_upload_method, "owner",
                                  created, created, members or {"users": [1], "groups": []})
            if await self.state.add(WORKSPACES, str(new_id), workspace.value()):
                return workspace

    async def update_workspace(self, workspace_id: int,
                               change: Callable[[Workspace], Workspace]) -> Workspace | None:
        """Atomic edit (``change`` must be pure); updated_at moves one second on. None when absent."""
        await self.seed()

        def apply(current: Any) -> Any:
            if current is None:
                return None
            workspace = Workspace.of(current)
            changed = change(workspace)
            stamp = max(workspace.updated_at, workspace.created_at) + 1
            return changed.replace(updated_at=stamp).value()

        value = await self.state.update(WORKSPACES, str(workspace_id), apply)
        return None if value is None else Workspace.of(value)

    # -- tags ------------------------------------------------------------------------------------------

    async def tags(self) -> dict[int, Tag]:
        await self.seed()
        found = [Tag.of(v) for v in (await self.state.items(TAGS)).values()]
        return {t.id: t for t in sorted(found, key=lambda t: t.id)}

    async def create_tag(self, name: str, description: str, auto_assign: bool) -> Tag | None:
        """A new tag; None when one has that name already (names are unique, ignoring case)."""
        await self.seed()
        if not await self.state.add(TAG_NAMES, name.lower(), True):
            return None
        while True:
            new_id = await self.state.next_id(TAG_IDS)
            created = self.epoch + new_id
            tag = Tag(new_id, name, description, auto_assign, created, created)
            if await self.state.add(TAGS, str(new_id), tag.value()):
                return tag

    async def delete_tag(self, tag_id: int) -> bool:
        await self.seed()
        value = await self.state.get(TAGS, str(tag_id))
        if value is None or not await self.state.delete(TAGS, str(tag_id)):
            return False
        await self.state.delete(TAG_NAMES, Tag.of(value).name.lower())
        return True


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
