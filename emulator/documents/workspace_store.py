"""``WorkspaceStore``: the workspaces in the state backend, per user and company, and their tags.

Every user has a personal workspace (theirs alone), every company a company workspace (its users'),
made on the first use by one of them; a custom workspace made at run time is its creator's and the
members of the creator's company they add. The custom workspaces the shipped fixtures seed are
every company's, read-only: a company that changes one changes its own copy (``identity/overlay.py``),
the others still see the seed. Another user's workspace is never listed and is found by no id.
The tags (``tag_store.py``) come from the same file and are kept the same way. The records:

    workspaces        id -> Workspace.value(): the personal, company and run-time custom workspaces
    workspaces/<company id>   id -> the company's copy of a seeded custom workspace
    workspace-homes   "personal:<user id>" / "company:<company id>" -> the id of that workspace
    workspace-seed    "personal" / "company" -> who took the seed's id for it (the first to ask)
    directory         "seeded" -> true once the id counter is past the seed's (a reset clears it)

The first user to use the emulator gets the seed's ids (1 and 2 with the shipped file), so a
single key sees what it always did; every other user and company gets new ids from the shared
counter, which starts after the seed's. Ids are claimed with ``add`` (written only when absent), so
two workers never give one twice, and a user's home workspace keeps its id for the life of the
backend: a space's reset (``drop_company``) removes the company's workspaces, copies and tags, and
its personal and company workspaces come back as seeded, with the same ids, at their next use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..config import Settings
from ..identity.directory import Users
from ..identity.overlay import Overlay, company_of
from ..identity.ownership import COMPANY, OWNER, OWNER_COMPANY, PRIVATE, owner_fields, visible
from ..identity.users import Company, User
from ..state import Backend
from .tag_store import TagStore
from .workspaces import Seed, Tag, Workspace

WORKSPACES, MARKS = "workspaces", "directory"
HOMES, SEED_HOMES = "workspace-homes", "workspace-seed"
WORKSPACE_IDS = "workspace-ids"
HOME_KINDS = ("personal", "company")
ANYONE = "-"  # the owner key of a call without a user (an unsecured operation)
EMULATOR_USER = 1  # the emulator's one user: what a key's implicit user is shown as


def member_id(user: User) -> int:
    """The id a user is shown by in ``members`` (a key's implicit user: the emulator's one user)."""
    return EMULATOR_USER if user.implicit else user.id


class WorkspaceStore:
    """The workspaces and tags, over the state backend, as each user sees them."""

    def __init__(self, state: Backend, seed: Seed, epoch: int, users: Users | None = None):
        self.state = state
        self.seed_data = seed
        self.company = seed.company
        self.epoch = epoch
        self.users = users
        self.templates = {kind: next(w for w in seed.workspaces if w.workspace_type == kind)
                          for kind in HOME_KINDS}
        # The seeded custom workspaces: read-only, each company's changes a copy of its own.
        self.shared = Overlay(state, WORKSPACES, {str(w.id): w.value() for w in seed.workspaces
                                                  if w.workspace_type not in HOME_KINDS})
        self.tag_store = TagStore(state, seed.tags, epoch)

    @classmethod
    def load(cls, state: Backend, settings: Settings, users: Users | None = None) -> WorkspaceStore:
        return cls(state, Seed.load(settings), settings.epoch, users)

    async def seed(self) -> None:
        """Move the id counter past the fixtures' ids, once per backend (the seeded custom workspaces
        are never written; the personal and company workspaces are made per user and company, at their
        first use)."""
        if await self.state.get(MARKS, "seeded"):
            return
        # New ids start after the fixtures'.
        highest = max((w.id for w in self.seed_data.workspaces), default=0)
        current = await self.state.next_id(WORKSPACE_IDS, 0)
        if current < highest:
            await self.state.incr(WORKSPACE_IDS, highest - current)
        await self.state.put(MARKS, "seeded", True)

    # -- who sees a workspace -----------------------------------------------------------------------

    @staticmethod
    def sees(workspace: Workspace, user: User | None) -> bool:
        """Unowned: everyone; personal: its user; company: its company; custom: its creator and the
        members of the creator's company."""
        if visible(workspace.owner, user):
            return True
        return (user is not None and workspace.owner.get(OWNER_COMPANY) == user.company.id
                and member_id(user) in (workspace.members.get("users") or []))

    @staticmethod
    def _as_seen(workspace: Workspace, user: User | None) -> Workspace:
        """A custom workspace's ``user_role`` for the viewer: its creator owns it, a member edits it."""
        creator = workspace.owner.get(OWNER)
        if user is None or creator is None or creator == user.id or workspace.workspace_type != "custom":
            return workspace
        return workspace.replace(user_role="editor")

    # -- the personal and company workspaces --------------------------------------------------------

    async def _home(self, kind: str, user: User | None) -> Workspace:
        who = ANYONE if user is None else str(user.id if kind == "personal" else user.company.id)
        key = f"{kind}:{who}"
        mapped = await self.state.get(HOMES, key)
        if not isinstance(mapped, int):
            await self.state.add(SEED_HOMES, kind, who)  # the first to ask takes the seed's id
            first = await self.state.get(SEED_HOMES, kind) == who
            candidate = self.templates[kind].id if first else await self.state.next_id(WORKSPACE_IDS)
            await self.state.add(HOMES, key, candidate)
            mapped = await self.state.get(HOMES, key)
            if not isinstance(mapped, int):  # a reset between the two writes: ask again
                return await self._home(kind, user)
        value = await self.state.get(WORKSPACES, str(mapped))
        if value is None:
            await self.state.add(WORKSPACES, str(mapped), self._home_record(kind, mapped, user).value())
            value = await self.state.get(WORKSPACES, str(mapped))
        return Workspace.of(value) if value is not None else self._home_record(kind, mapped, user)

    def _home_record(self, kind: str, workspace_id: int, user: User | None) -> Workspace:
        template = self.templates[kind]
        if user is None:
            return template.replace(id=workspace_id)
        if kind == "personal":
            members = [member_id(user)]
            owner = owner_fields(user, PRIVATE)
            name = template.name
        else:
            members = self._company_members(user)
            owner = owner_fields(user, COMPANY)
            name = template.name if user.implicit else user.company.name  # a --users company's own name
        return template.replace(id=workspace_id, name=name, members={"users": members, "groups": []},
                                owner=owner)

    def _company_members(self, user: User) -> list[int]:
        roster = self.users.roster if self.users is not None else None
        if roster is None:
            return [member_id(user)]
        return sorted(u.id for u in roster.by_key.values() if u.company.id == user.company.id)

    async def personal(self, user: User | None) -> Workspace:
        return await self._home("personal", user)

    async def company_workspace(self, user: User | None) -> Workspace:
        return await self._home("company", user)

    # -- workspaces ---------------------------------------------------------------------------------

    async def every_workspace(self, viewer: User | None = None) -> dict[int, Workspace]:
        """Every workspace of every user, by id, in id order, the seeded custom ones as the viewer's
        company has them: what names a file's workspace in an answer (a file the caller may see is in a
        workspace of theirs, or a company file of a colleague's)."""
        await self.seed()
        owned = await self.state.items(WORKSPACES)
        found = [Workspace.of(v) for k, v in owned.items() if k not in self.shared.seeds]
        found += [Workspace.of(v) for v in (await self.shared.items(company_of(viewer))).values()]
        return {w.id: w for w in sorted(found, key=lambda w: w.id)}

    async def named(self, viewer: User | None) -> tuple[dict[int, Workspace], dict[int, Tag]]:
        """What a file's answer names its workspace and tags from, as the viewer's company has them."""
        return await self.every_workspace(viewer), await self.tags(viewer)

    async def workspaces(self, user: User | None) -> dict[int, Workspace]:
        """The workspaces ``user`` sees (their personal and company ones made if need be), by id."""
        await self.seed()
        await self.personal(user)
        await self.company_workspace(user)
        return {i: self._as_seen(w, user) for i, w in (await self.every_workspace(user)).items()
                if self.sees(w, user)}

    async def workspace(self, workspace_id: Any, user: User | None) -> Workspace | None:
        """The workspace of that id if ``user`` sees it (None: absent, or another user's)."""
        if not isinstance(workspace_id, int) or isinstance(workspace_id, bool):
            return None
        await self.seed()
        if user is not None:  # the caller's own come into being at their first use
            for home in (await self.personal(user), await self.company_workspace(user)):
                if home.id == workspace_id:
                    return home
        key = str(workspace_id)
        if key in self.shared.seeds:
            value = await self.shared.get(company_of(user), key)
        else:
            value = await self.state.get(WORKSPACES, key)
        if value is None:
            return None
        workspace = Workspace.of(value)
        return self._as_seen(workspace, user) if self.sees(workspace, user) else None

    async def seen_ids(self, workspace_ids: set[int], user: User) -> set[int]:
        """Those of ``workspace_ids`` (run-time custom workspaces) that ``user`` sees now."""
        keys = sorted(str(i) for i in workspace_ids)
        values = await self.state.get_many(WORKSPACES, keys)
        return {int(key) for key, value in zip(keys, values, strict=True)
                if value is not None and self.sees(Workspace.of(value), user)}

    async def resolve(self, workspace_ids: list[int], user: User | None) -> list[Workspace]:
        """An agent's workspaces as ``user`` sees them: the seed's personal and company workspace ids
        stand for the caller's own; the others, those the caller sees, in the agent's order."""
        mine = await self.workspaces(user)
        homes = {self.templates[kind].id: await self._home(kind, user) for kind in HOME_KINDS}
        found = [homes.get(i) or mine.get(i) for i in workspace_ids]
        return list({w.id: w for w in found if w is not None}.values())

    async def create_workspace(self, name: str, description: str, document_upload_method: str = "manual",
                               members: dict[str, list] | None = None, user: User | None = None) -> Workspace:
        await self.seed()
        default = {"users": [member_id(user) if user is not None else EMULATOR_USER], "groups": []}
        while True:
            new_id = await self.state.next_id(WORKSPACE_IDS)
            created = self.epoch + new_id  # later than the fixtures' (the epoch), one second per id
            workspace = Workspace(new_id, name, "custom", description, document_upload_method, "owner",
                                  created, created, members or default, owner_fields(user, PRIVATE))
            if await self.state.add(WORKSPACES, str(new_id), workspace.value()):
                return workspace

    async def update_workspace(self, workspace_id: int, change: Callable[[Workspace], Workspace],
                               user: User | None = None) -> Workspace | None:
        """Atomic edit (``change`` must be pure); updated_at moves one second on. None when absent or
        another user's. A seeded custom workspace changes for the caller's company alone."""
        if await self.workspace(workspace_id, user) is None:
            return None

        def apply(current: Any) -> Any:
            if current is None:
                return None
            workspace = Workspace.of(current)
            changed = change(workspace)
            stamp = max(workspace.updated_at, workspace.created_at) + 1
            return changed.replace(updated_at=stamp).value()

        key = str(workspace_id)
        if key in self.shared.seeds:
            value = await self.shared.update(company_of(user), key, apply)
        else:
            value = await self.state.update(WORKSPACES, key, apply)
        return None if value is None else self._as_seen(Workspace.of(value), user)

    # -- tags (tag_store.py) ---------------------------------------------------------------------------

    async def tags(self, user: User | None) -> dict[int, Tag]:
        """The tags ``user`` sees: the seeded ones their company kept, and their company's."""
        return await self.tag_store.tags(user)

    async def create_tag(self, name: str, description: str, auto_assign: bool,
                         user: User | None = None) -> Tag | None:
        """A new tag of the caller's company; None when it already sees one of that name."""
        return await self.tag_store.create(name, description, auto_assign, user)

    async def delete_tag(self, tag_id: int, user: User | None = None) -> bool:
        return await self.tag_store.delete(tag_id, user)

    # -- a space's reset --------------------------------------------------------------------------------

    async def drop_company(self, company: Company | int) -> dict[str, int]:
        """Remove every workspace and tag the company's users own and its copies of the seeded ones (its
        users' personal workspaces come back, as seeded and with their ids, at their next use); -> how
        many of each went."""
        company_id = company.id if isinstance(company, Company) else company
        dropped = {"workspaces": await self.shared.drop(company_id),
                   "tags": await self.tag_store.drop_company(company_id)}
        for key, value in (await self.state.items(WORKSPACES)).items():
            if Workspace.of(value).owner.get(OWNER_COMPANY) == company_id:
                dropped["workspaces"] += await self.state.delete(WORKSPACES, key)
        return dropped
