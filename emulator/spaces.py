"""Test spaces: what one company's callers script and read on a shared emulator, apart from others.

A space is a company's (``User.space``). The control API addresses one when the request names an
API key in ``X-Emulator-Api-Key``: the fixtures it posts answer only that company's calls, its
list, journal, limits and reset are that company's alone. Without the header (with the admin
token, when the emulator runs with ``--admin-token``) the control API addresses everything, as a
single-user emulator always has. Fixture files (``--fixtures-dir``) apply in every space, but
their ``times`` and sequence counters count per space.

A space's reset removes its runtime fixtures, its file fixtures' counters, its run-time rate
limits and its users' rate-limit windows, what its company's users own (``SpaceItems``: files,
threads, upload sessions, analyses, workspaces, tags, agents and MCP servers, and the company's copies of the
seeded workspaces, tags and agents; the personal and company workspaces come back as seeded at
their next use), and moves its journal cursor past every entry so far (the
journal is one log for all: a space's view of it starts at the cursor).
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from .conversations.directory import AgentDirectory
from .conversations.records import Conversations
from .documents.analyses import AnalysisStore
from .documents.store import FileStore
from .documents.upload_sessions import UploadSessionStore
from .documents.workspace_store import WorkspaceStore
from .errors import AuthenticationFailed, NotAuthenticated
from .identity.directory import Users
from .identity.ownership import OWNER_COMPANY
from .identity.users import User
from .journal import LOG
from .state import Backend

if TYPE_CHECKING:  # the registry and the limiter sit beside this module: types only
    from .limits.stage import RateLimiter
    from .scripts.registry import Scripts

SPACE_HEADER = "x-emulator-api-key"
SPACES = "spaces"  # backend records: space -> {"journal_after": seq}


class SpaceItems:
    """What a company's users own among the stored items, removed by its space's reset (a scan of
    each kind: a test space holds few)."""

    def __init__(self, files: FileStore, conversations: Conversations, sessions: UploadSessionStore,
                 analyses: AnalysisStore, workspaces: WorkspaceStore, agents: AgentDirectory):
        self.files, self.conversations = files, conversations
        self.sessions, self.analyses, self.workspaces = sessions, analyses, workspaces
        self.agents = agents

    async def drop(self, company_id: int) -> dict[str, int]:
        files = [r for r in await self.files.all() if r.extra.get(OWNER_COMPANY) == company_id]
        for record in files:
            await self.files.delete(record.id)
        threads = [t for t in await self.conversations.threads() if t.get(OWNER_COMPANY) == company_id]
        for thread in threads:
            await self.conversations.delete_thread(thread)
        return {"files": len(files), "threads": len(threads),
                "upload_sessions": await self.sessions.drop_company(company_id),
                "analyses": await self.analyses.drop_company(company_id),
                **await self.workspaces.drop_company(company_id),
                "agents": await self.agents.drop_company(company_id),
                "mcp_servers": await self.agents.mcp.drop_company(company_id)}


class Spaces:
    def __init__(self, state: Backend, users: Users, scripts: Scripts, limiter: RateLimiter,
                 items: SpaceItems, admin_token: str | None):
        self.state, self.users, self.scripts, self.limiter = state, users, scripts, limiter
        self.items, self.admin_token = items, admin_token

    def addressed(self, request: Request) -> User | None:
        """The user whose space a control request addresses (None: every space, the admin's view).

        With --admin-token, a request without the token must name a key (it addresses that key's
        space only); a wrong token is refused."""
        key = (request.headers.get(SPACE_HEADER) or "").strip()
        token = request.headers.get("x-emulator-admin-token")
        if self.admin_token and token is not None and not hmac.compare_digest(token.encode(),
                                                                                self.admin_token.encode()):
            raise AuthenticationFailed("Wrong X-Emulator-Admin-Token.")
        if not key:
            if self.admin_token and token is None:
                raise NotAuthenticated("The control API needs the X-Emulator-Admin-Token header (the "
                                       "emulator runs with --admin-token), or X-Emulator-Api-Key to address "
                                       "one key's space.")
            return None
        user = self.users.find(key)
        if user is None:
            raise AuthenticationFailed("X-Emulator-Api-Key names a key that is not in --users.")
        return user

    async def journal_after(self, space: str) -> int:
        record = await self.state.get(SPACES, space)
        return int(record.get("journal_after", 0)) if isinstance(record, dict) else 0

    async def clear_journal(self, space: str) -> int:
        """The space's view of the journal starts after every entry so far; -> how many it had."""
        after = await self.journal_after(space)
        newest = await self.state.read_back(LOG, None, 1)
        last = newest[0][0] if newest else 0
        await self.state.put(SPACES, space, {"journal_after": last})
        entries = await self.state.read(LOG, after)
        company = space[1:]
        marker = b'"company":%s,' % company.encode()
        return sum(1 for _, raw in entries if isinstance(raw, bytes) and marker in raw)

    async def reset(self, space: str) -> dict[str, Any]:
        """One space back to its start, the others untouched."""
        fixtures = await self.scripts.clear(space=space)
        await self.scripts.reset_counters(space)
        await self.clear_journal(space)
        await self.limiter.reset(space)
        dropped = await self.items.drop(int(space[1:]))
        return {"reset": True, "space": space, "fixtures": fixtures, **dropped}
