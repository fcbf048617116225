"""The company, groups, user, native tools and agents: fixtures/agents.yaml, then the state backend.

The shipped file (or ``--agents FILE``) is read once at start-up into immutable seeds, every
company's. An agent created (POST) is its creator's company's; a shipped one changed (PATCH) is
changed for that company alone: both are whole records of the company's own space in the state
backend (``agents/<company id>``, ``identity/overlay.py``), so every worker sees them and no other
company does. A read takes the company's record first and the seed otherwise, which is why a reset
(the state cleared, or the company's space) brings the shipped agents back as they were. New
agents' ids continue after the highest shipped one (a counter of the backend).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..documents.workspaces import iso
from ..errors import StartupError
from ..generation.text import request_key
from ..identity.overlay import Overlay
from ..state import Backend, Value
from ..yaml_reader import YamlError, read_mapping
from .mcp import McpDeclarationError, McpServers

SPACE = "agents"
COUNTER = "agents"
UPDATES = "agents.updates"  # the counter an agent's updated_at is drawn from


class DirectoryError(StartupError, ValueError):  # a ValueError too, as it was
    """An agents file that cannot be served; the message names the file and the entry."""


@dataclass(frozen=True)
class Tool:
    id: str
    name: str
    require_document: bool | None = None
    accepted_file_types: tuple[str, ...] | None = None

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "type": "native", "object": "tool", "mcp_server_name": None,
                "require_document": self.require_document,
                "accepted_file_types": list(self.accepted_file_types) if self.accepted_file_types is not None
                else None}

    def brief(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "object": "tool"}


@dataclass(frozen=True)
class Group:
    id: int
    name: str
    category: str
    description: str


class AgentDirectory:
    """The seeds, and the agents of the state backend over them."""

    def __init__(self, company: dict[str, Any], groups: list[Group], user: dict[str, Any], tools: list[Tool],
                 agents: list[dict[str, Any]], epoch: int, state: Backend, mcp: McpServers | None = None):
        self.state = state
        # The MCP servers the file declares (with their tools) and those created through the API.
        self.mcp = mcp or McpServers([], {}, state, company["id"], groups[0].id)
        self.company = company
        self.groups = {g.id: g for g in groups}
        self.user = user
        self.tools = {t.name: t for t in tools}
        self.tools_by_id = {t.id: t for t in tools}
        self.seeds: dict[int, dict[str, Any]] = {a["id"]: a for a in agents}
        self.catalog = Overlay(state, SPACE, {str(i): a for i, a in self.seeds.items()})
        self.epoch = epoch
        defaults = [a for a in agents if a["is_default"]]
        if len(defaults) != 1:
            raise DirectoryError("agents: expected exactly one agent with is_default: true, "
                                 f"found {len(defaults)}")
        self.default_id: int = defaults[0]["id"]

    @classmethod
    def load(cls, path: Path, epoch: int, state: Backend) -> AgentDirectory:
        try:
            document = read_mapping(path, "a mapping with company, groups, user, tools and agents")
        except YamlError as exc:
            raise DirectoryError(str(exc)) from None
        company = {"id": 1, "name": "Company", "allow_ephemeral_mode": True, "is_sharing_enabled": True,
                   "login_method": "password", **(document.get("company") or {})}
        groups = [_group(entry, f"{path}: group #{n}")
                  for n, entry in enumerate(document.get("groups") or [], 1)]
        if not groups:
            groups = [Group(1, "Everyone", "company", "")]
        user = {"id": 1, "username": "emulator", "full_name": "Emulator User",
                "email": "emulator@example.com",
                "language": "en", "groups": [{"id": g.id, "role": "member"} for g in groups],
                **(document.get("user") or {})}
        tools = [_tool(entry, f"{path}: tool #{n}") for n, entry in enumerate(document.get("tools") or [], 1)]
        names = {t.name for t in tools}
        personal = [g.id for g in groups if g.category == "personal"] or [groups[0].id]
        try:
            mcp = McpServers.declare(document.get("mcp_servers"), str(path), state, company["id"],
                                     personal[0])
        except McpDeclarationError as exc:
            raise DirectoryError(str(exc)) from exc
        servers = {s["name"]: s["id"] for s in mcp.seeds.values()}
        agents = []
        for number, entry in enumerate(document.get("agents") or [], 1):
            where = f"{path}: agent #{number}"
            agents.append(_agent(entry, where, names, {g.id for g in groups}, groups[0].id, company["id"],
                                 epoch))
            agents[-1]["mcp_server_ids"] = _servers(entry, where, servers)
        if not agents:
            default = {"id": 1, "name": "Assistant", "is_default": True, "tools": sorted(names)}
            agents = [_agent(default, "default", names, {g.id for g in groups}, groups[0].id, company["id"],
                             epoch)]
        return cls(company, groups, user, tools, agents, epoch, state, mcp)

    # -- agents (each company's over the seeds: identity/overlay.py) ---------------------------------

    async def get(self, agent_id: Any, company: int | None = None) -> dict[str, Any] | None:
        """The agent as the company sees it (None: absent, another company's, or not an id)."""
        if not isinstance(agent_id, int) or isinstance(agent_id, bool):
            return None
        found = await self.catalog.get(company, str(agent_id))
        return found if isinstance(found, dict) else None

    async def all(self, company: int | None = None) -> list[dict[str, Any]]:
        found = [v for v in (await self.catalog.items(company)).values() if isinstance(v, dict)]
        return sorted(found, key=lambda a: a["id"])

    async def create(self, fields: dict[str, Any], company: int | None = None) -> dict[str, Any]:
        """A new agent of the company (ids go on after the shipped ones, for every company alike)."""
        while True:
            number = await self.state.next_id(COUNTER)
            agent_id = max(self.seeds, default=0) + number
            stamp = iso(self.epoch + number)
            record = {"id": agent_id, "is_default": False, "is_current_user_favorite": False,
                      "scope_workspaces_by_group": False, "description": None, "instructions": None,
                      "tools": [], "mcp_server_ids": [], "workspaces": [], "created_at": stamp,
                      "updated_at": stamp,
                      **fields}
            if await self.catalog.add(company, str(agent_id), record):
                return record

    async def update_stamp(self) -> str:
        """The ``updated_at`` of the next change: a second after the previous one, from the epoch."""
        return iso(self.epoch + await self.state.incr(UPDATES))

    async def patch(self, agent_id: int, changes: dict[str, Any],
                    company: int | None = None) -> dict[str, Any] | None:
        """Change the company's agent (a shipped one: the company's copy of it)."""

        def change(current: Value) -> Value:
            return {**current, **changes} if isinstance(current, dict) else current

        patched = await self.catalog.update(company, str(agent_id), change)
        return patched if isinstance(patched, dict) else None

    async def drop_company(self, company_id: int) -> int:
        """A space's reset: the company's agents and its changes to the shipped ones go; -> how many."""
        return await self.catalog.drop(company_id)

    def tool_names(self, agent: dict[str, Any]) -> list[str]:
        return [name for name in agent.get("tools", []) if name in self.tools]


def tool_id(name: str) -> str:
    return str(uuid.UUID(bytes=request_key("tool", name)[:16], version=4))


def _servers(entry: dict[str, Any], where: str, servers: dict[str, str]) -> list[str]:
    """An agent's ``mcp_servers`` (names or ids of the file's servers) -> their ids."""
    named = entry.get("mcp_servers") or []
    ids = set(servers.values())
    unknown = [n for n in named if n not in servers and n not in ids]
    if unknown:
        raise DirectoryError(f"{where}: unknown MCP server(s) {', '.join(map(repr, unknown))} "
                             f"(the file's mcp_servers: {', '.join(sorted(servers)) or 'none'})")
    return [servers.get(n, n) for n in named]


def _group(entry: Any, where: str) -> Group:
    if not isinstance(entry, dict) or not isinstance(entry.get("id"), int) or not entry.get("name"):
        raise DirectoryError(f"{where}: needs an integer id and a name, got {entry!r}")
    return Group(entry["id"], str(entry["name"]), str(entry.get("category") or "custom"),
                 str(entry.get("description") or ""))


def _tool(entry: Any, where: str) -> Tool:
    if not isinstance(entry, dict) or not entry.get("name"):
        raise DirectoryError(f"{where}: needs a name, got {entry!r}")
    types = entry.get("accepted_file_types")
    return Tool(str(entry.get("id") or tool_id(entry["name"])), str(entry["name"]),
                entry.get("require_document"),
                tuple(types) if isinstance(types, list) else None)


def _agent(entry: Any, where: str, tools: set[str], groups: set[int], default_group: int, company_id: int,
           epoch: int) -> dict[str, Any]:
    if not isinstance(entry, dict) or not isinstance(entry.get("id"), int) or not entry.get("name"):
        raise DirectoryError(f"{where}: needs an integer id and a name, got {entry!r}")
    unknown = [t for t in entry.get("tools") or [] if t not in tools]
    if unknown:
        raise DirectoryError(f"{where}: unknown tool(s) {', '.join(map(repr, unknown))} "
                             f"(the file's tools: {', '.join(sorted(tools)) or 'none'})")
    group_id = entry.get("group_id", default_group)
    if group_id not in groups:
        raise DirectoryError(f"{where}: group_id {group_id!r} is not one of the file's groups")
    # Shipped agents exist before anything else: a day before the epoch, a second apart.
    stamp = iso(epoch - 86400 + entry["id"])
    return {"id": entry["id"], "name": str(entry["name"]), "description": entry.get("description"),
            "instructions": entry.get("instructions"), "company_id": company_id, "group_id": group_id,
            "is_default": bool(entry.get("is_default", False)),
            "is_current_user_favorite": bool(entry.get("is_current_user_favorite", False)),
            "scope_workspaces_by_group": bool(entry.get("scope_workspaces_by_group", False)),
            "tools": list(entry.get("tools") or []), "mcp_server_ids": [],
            "workspaces": [int(w) for w in entry.get("workspaces") or []],
            "created_at": stamp, "updated_at": stamp}
