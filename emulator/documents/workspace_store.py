"""``WorkspaceStore``: the workspaces and tags in the state backend, per user and company.

Every user has a personal workspace (theirs alone), every company a company workspace (its users'),
made on the first use by one of them; a custom workspace made at run time is its creator's and the
members of the creator's company they add; a tag made at run time is its company's. What the shipped
fixtures seed besides (the custom workspaces, the tags) has no owner and is shared by every user, as
fixture files are. Another user's workspace or tag is never listed and is found by no id. The records:

    workspaces        id -> Workspace.value()
    tags              id -> Tag.value()
    tag-names         a tag's lowercased name -> true (a seeded tag's), or "<company id>:<name>" (a
                      company's): the unique index that makes a second creation of one name fail
    workspace-homes   "personal:<user id>" / "company:<company id>" -> the id of that workspace
    workspace-seed    "personal" / "company" -> who took the seed's id for it (the first to ask)
    directory         "seeded" -> true once the fixtures are in (a reset clears it; the next use seeds again)
    workspaces-version "workspaces" -> a random token rewritten after every change of ``workspaces``:
                      a worker keeps its list of them until it changes (``get_watched``)

The first user to use the emulator gets the seed's ids (1 and 2 with the shipped file), so a
single key sees what it always did; every other user and company gets new ids from the shared
counter, which starts after the seed's. Ids are claimed with ``add`` (written only when absent), so
two workers never give one twice, and a user's home workspace keeps its id for the life of the
backend: a space's reset (``drop_company``) removes the company's workspaces and tags, and its
personal and company workspaces come back as seeded, with the same ids, at their next use.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from ..config import Settings
from ..identity.directory import Users
from ..identity.ownership import COMPANY, OWNER, OWNER_COMPANY, PRIVATE, owner_fields, visible
from ..identity.users import Company, User
from ..state import Backend
from .workspaces import Seed, Tag, Workspace

WORKSPACES, TAGS, TAG_NAMES, MARKS = "workspaces", "tags", "tag-names", "directory"
# One record, a random token rewritten after every change of ``workspaces``: a worker keeps the list
# of every workspace until it changes (``get_watched``: on Redis no round trip meanwhile).
VERSION, VERSION_KEY = "workspaces-version", "workspaces"
HOMES, SEED_HOMES = "workspace-homes", "workspace-seed"
WORKSPACE_IDS, TAG_IDS = "workspace-ids", "tag-ids"
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
        # Whether this process saw the backend seeded: every use of the store asks, and the mark only
        # goes with a reset (``forget_seeded``, on every worker).
        self._seeded = False
        self._listed: tuple[Any, dict[int, Workspace]] | None = None  # (version, every workspace by id)

    @classmethod
    def load(cls, state: Backend, settings: Settings, users: Users | None = None) -> WorkspaceStore:
        return cls(state, Seed.load(settings), settings.epoch, users)

    async def seed(self) -> None:
        """Write the fixtures' shared workspaces and tags where their ids are absent, once per backend
        (the personal and company workspaces are made per user and company, at their first use)."""
        if self._seeded:
            return
        if await self.state.get(MARKS, "seeded"):
            self._seeded = True
            return
        for workspace in self.seed_data.workspaces:
            if workspace.workspace_type not in HOME_KINDS:
                await self.state.add(WORKSPACES, str(workspace.id), workspace.value())
        await self._changed()
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
        self._seeded = True

    def forget_seeded(self) -> None:
        """The state was reset (here or on another worker): the next use looks at the mark again."""
        self._seeded = False
        self._listed = None

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
            if await self.state.add(WORKSPACES, str(mapped), self._home_record(kind, mapped, user).value()):
                await self._changed()
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

    async def every_workspace(self) -> dict[int, Workspace]:
        """Every workspace of every user, by id, in id order: what names a file's workspace in an answer
        (a file the caller may see is in a workspace of theirs, or a company file of a colleague's)."""
        await self.seed()
        version = await self.state.get_watched(VERSION, VERSION_KEY)
        listed = self._listed
        if listed is None or version is None or listed[0] != version:
            # The version is read before the records: a change made meanwhile rewrites it after them.
            found = [Workspace.of(v) for v in (await self.state.items(WORKSPACES)).values()]
            listed = (version, {w.id: w for w in sorted(found, key=lambda w: w.id)})
            if version is not None:
                self._listed = listed
        return dict(listed[1])

    async def _changed(self) -> None:
        """Tell every worker's ``every_workspace`` that the workspaces changed (on Redis: published)."""
        token = secrets.token_hex(8)
        await self.state.update(VERSION, VERSION_KEY, lambda _: token)

    async def workspaces(self, user: User | None) -> dict[int, Workspace]:
        """The workspaces ``user`` sees (their personal and company ones made if need be), by id."""
        await self.seed()
        await self.personal(user)
        await self.company_workspace(user)
        return {i: self._as_seen(w, user) for i, w in (await self.every_workspace()).items()
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
        value = await self.state.get(WORKSPACES, str(workspace_id))
        if value is None:
            return None
        workspace = Workspace.of(value)
        return self._as_seen(workspace, user) if self.sees(workspace, user) else None

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
                await self._changed()
                return workspace

    async def update_workspace(self, workspace_id: int, change: Callable[[Workspace], Workspace],
                               user: User | None = None) -> Workspace | None:
        """Atomic edit (``change`` must be pure); updated_at moves one second on. None when absent or
        another user's."""
        if await self.workspace(workspace_id, user) is None:
            return None

        def apply(current: Any) -> Any:
            if current is None:
                return None
            workspace = Workspace.of(current)
            changed = change(workspace)
            stamp = max(workspace.updated_at, workspace.created_at) + 1
            return changed.replace(updated_at=stamp).value()

        value = await self.state.update(WORKSPACES, str(workspace_id), apply)
        if value is not None:
            await self._changed()
        return None if value is None else self._as_seen(Workspace.of(value), user)

    # -- tags ------------------------------------------------------------------------------------------

    async def every_tag(self) -> dict[int, Tag]:
        await self.seed()
        found = [Tag.of(v) for v in (await self.state.items(TAGS)).values()]
        return {t.id: t for t in sorted(found, key=lambda t: t.id)}

    async def tags(self, user: User | None) -> dict[int, Tag]:
        """The tags ``user`` sees: the seeded ones and their company's."""
        return {i: t for i, t in (await self.every_tag()).items() if visible(t.owner, user)}

    async def create_tag(self, name: str, description: str, auto_assign: bool,
                         user: User | None = None) -> Tag | None:
        """A new tag of the caller's company; None when it or the seed has one of that name (names are
        unique, ignoring case)."""
        await self.seed()
        if await self.state.get(TAG_NAMES, name.lower()) is not None:
            return None
        if not await self.state.add(TAG_NAMES, _name_key(name, user), True):
            return None
        while True:
            new_id = await self.state.next_id(TAG_IDS)
            created = self.epoch + new_id
            tag = Tag(new_id, name, description, auto_assign, created, created, owner_fields(user, COMPANY))
            if await self.state.add(TAGS, str(new_id), tag.value()):
                return tag

    async def delete_tag(self, tag_id: int, user: User | None = None) -> bool:
        await self.seed()
        value = await self.state.get(TAGS, str(tag_id))
        if value is None or not visible(Tag.of(value).owner, user):
            return False
        if not await self.state.delete(TAGS, str(tag_id)):
            return False
        tag = Tag.of(value)
        await self.state.delete(TAG_NAMES, _name_key(tag.name, None) if not tag.owner else
                                f"{tag.owner.get(OWNER_COMPANY)}:{tag.name.lower()}")
        return True

    # -- a space's reset --------------------------------------------------------------------------------

    async def drop_company(self, company: Company | int) -> dict[str, int]:
        """Remove every workspace and tag the company's users own (its users' personal workspaces come
        back, as seeded and with their ids, at their next use); -> how many of each went."""
        company_id = company.id if isinstance(company, Company) else company
        dropped = {"workspaces": 0, "tags": 0}
        for key, value in (await self.state.items(WORKSPACES)).items():
            if Workspace.of(value).owner.get(OWNER_COMPANY) == company_id:
                dropped["workspaces"] += await self.state.delete(WORKSPACES, key)
        if dropped["workspaces"]:
            await self._changed()
        for key, value in (await self.state.items(TAGS)).items():
            tag = Tag.of(value)
            if tag.owner.get(OWNER_COMPANY) == company_id and await self.state.delete(TAGS, key):
                await self.state.delete(TAG_NAMES, f"{company_id}:{tag.name.lower()}")
                dropped["tags"] += 1
        return dropped


def _name_key(name: str, user: User | None) -> str:
    """The unique index's key for a tag name: the company's own, or the shared one (no user)."""
    return name.lower() if user is None else f"{user.company.id}:{name.lower()}"
