"""Workspaces and tags: the shipped fixtures/workspaces.yaml -> a Directory.

They are read once at start-up and never change while the emulator runs (the
public API has no call that creates them). Every file lives in one workspace;
a personal and a company workspace always exist, because v2's ``collection_type``
(``private`` / ``company``) names them without an id. (--fixtures-dir is not read
here: every YAML file there is a scripted-answer fixture.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from ..config import DEFAULT_FIXTURES_DIR, Settings

FILE_NAME = "workspaces.yaml"
WORKSPACE_TYPES = ("personal", "company", "custom")
# v2's collection_type for each workspace type, and back.
COLLECTION_TYPES = {"personal": "private", "company": "company", "custom": "workspace"}


@dataclass(frozen=True)
class Workspace:
    id: int
    name: str
    workspace_type: str
    description: str = ""

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "workspace_type": self.workspace_type}


@dataclass(frozen=True)
class Tag:
    id: int
    tag: str
    description: str
    artificial: bool
    created_at: int


def iso(seconds: int) -> str:
    """Unix seconds -> the ISO 8601 form DRF writes (UTC, ``Z``)."""
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Directory:
    def __init__(self, company: str, workspaces: list[Workspace], tags: list[Tag]):
        self.company = company
        self.workspaces = {w.id: w for w in workspaces}
        self.tags = {t.id: t for t in tags}
        self.personal = self._only("personal")
        self.company_workspace = self._only("company")

    def _only(self, kind: str) -> Workspace:
        found = [w for w in self.workspaces.values() if w.workspace_type == kind]
        if len(found) != 1:
            raise ValueError(f"{FILE_NAME}: expected exactly one {kind} workspace, found {len(found)}")
        return found[0]

    @classmethod
    def load(cls, settings: Settings,
             paths: tuple[Path, ...] = (DEFAULT_FIXTURES_DIR / FILE_NAME,)) -> "Directory":
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
                workspace = _workspace(entry, f"{path}: workspace #{number}")
                workspaces[workspace.id] = workspace
            for number, entry in enumerate(document.get("tags") or [], 1):
                tag = _tag(entry, f"{path}: tag #{number}", settings.epoch)
                tags[tag.id] = tag
        # Without any fixture, the two workspaces v2's collection_type needs.
        for kind, name in (("personal", "Personal"), ("company", company)):
            if not any(w.workspace_type == kind for w in workspaces.values()):
                new_id = max(workspaces, default=0) + 1
                workspaces[new_id] = Workspace(new_id, name, kind)
        return cls(company, sorted(workspaces.values(), key=lambda w: w.id),
                   sorted(tags.values(), key=lambda t: t.id))


def _read(path: Path) -> dict:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: {exc}") from exc
    if not isinstance(document, dict):
        raise ValueError(f"{path}: expected a mapping with 'workspaces:' and 'tags:' lists")
    return document


def _workspace(entry: Any, where: str) -> Workspace:
    if not isinstance(entry, dict) or not isinstance(entry.get("id"), int) or not entry.get("name"):
        raise ValueError(f"{where}: needs an integer id and a name, got {entry!r}")
    kind = entry.get("workspace_type", "custom")
    if kind not in WORKSPACE_TYPES:
        raise ValueError(f"{where}: workspace_type must be one of {', '.join(WORKSPACE_TYPES)}, got {kind!r}")
    return Workspace(entry["id"], str(entry["name"]), kind, str(entry.get("description") or ""))


def _tag(entry: Any, where: str, epoch: int) -> Tag:
    if not isinstance(entry, dict) or not isinstance(entry.get("id"), int) or not entry.get("tag"):
        raise ValueError(f"{where}: needs an integer id and a tag (its name), got {entry!r}")
    # Tags exist before any file: an hour before the epoch, one second apart, in id order.
    return Tag(entry["id"], str(entry["tag"]), str(entry.get("description") or ""),
               bool(entry.get("artificial", False)), epoch - 3600 + entry["id"])
