"""MCP servers: the ones the agents file declares, the ones created through the API, and their tools.

The emulator never connects to an MCP server's URL (offline always). A server's tools are what
the agents file (``fixtures/agents.yaml``, ``mcp_servers:``) declares for it: each tool a name,
a description, JSON-schema ``parameters`` and a scripted ``result`` (and ``artifacts``, the files
it produces). The declared servers are every company's. A server created with ``POST /api/v3/mcp``
is its creator's company's: a record of the company's own space of the state backend
(``mcp_servers/<company id>``, ``identity/overlay.py``), never listed nor found for another company;
it takes the tools of the declared server with the same URL (else the same name), and has none
otherwise.
Its credentials are never kept: the record says only that it was given some (``has_credentials``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..generation.text import request_key
from ..identity.overlay import Overlay
from ..state import Backend

SPACE = "mcp_servers"
COUNTER = "mcp_servers"
AUTHENTICATION_METHODS = ("none", "url", "bearer_token")


class McpDeclarationError(ValueError):
    """An ``mcp_servers`` entry of the agents file that cannot be served; the message names it."""


def stable_id(*parts: Any) -> str:
    """A UUID4-shaped id from simple parts: the same declaration gets the same id on every run."""
    return str(uuid.UUID(bytes=request_key("mcp", *parts)[:16], version=4))


@dataclass(frozen=True)
class Artifact:
    """A file a tool call produces (``GET /api/v3/artifacts/{id}`` serves it)."""

    name: str
    content: str
    mime_type: str = "text/plain"

    def value(self) -> dict[str, Any]:
        return {"name": self.name, "content": self.content, "mime_type": self.mime_type}


@dataclass(frozen=True)
class McpTool:
    """One tool of an MCP server, with its declared parameters and scripted result."""

    server_id: str
    server_name: str
    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object"})
    result: str = ""
    artifacts: tuple[Artifact, ...] = ()

    @property
    def id(self) -> str:
        return stable_id("tool", self.server_id, self.name)

    def public(self) -> dict[str, Any]:
        """The documented Tool object, as ``GET /api/v3/mcp/{id}/tools`` and a tool-call part show it."""
        return {"id": self.id, "name": self.name, "type": "mcp", "object": "tool",
                "mcp_server_name": self.server_name, "require_document": None, "accepted_file_types": None}


def public_server(record: dict[str, Any]) -> dict[str, Any]:
    """The documented McpServer object: never the credentials, only whether there are some."""
    return {"id": record["id"], "object": "mcp_server", "name": record["name"],
            "authentication_method": record["authentication_method"],
            "has_credentials": bool(record.get("has_credentials")),
            "enabled": bool(record.get("enabled", True)),
            "availability_scope": record.get("availability_scope", "personal"),
            "is_global": bool(record.get("is_global", False)), "url": record.get("url"),
            "company_id": record.get("company_id"), "group_id": record.get("group_id")}


def brief_server(record: dict[str, Any]) -> dict[str, Any]:
    """An agent's ``tools.mcp_servers`` item."""
    return {"id": record["id"], "name": record["name"], "object": "mcp_server"}


class McpServers:
    """The declared servers (seeds) and the created ones (records of each company's space)."""

    def __init__(self, declared: list[dict[str, Any]], tools: dict[str, tuple[McpTool, ...]], state: Backend,
                 company_id: int, group_id: int):
        self.seeds = {s["id"]: s for s in declared}
        self._tools = tools  # by declared server id
        self.state, self.company_id, self.group_id = state, company_id, group_id
        self.catalog = Overlay(state, SPACE, self.seeds)

    @classmethod
    def declare(cls, entries: Any, where: str, state: Backend, company_id: int, group_id: int) -> McpServers:
        """The servers of the agents file's ``mcp_servers`` list (``where`` names the file)."""
        if entries is None:
            entries = []
        if not isinstance(entries, list):
            raise McpDeclarationError(f"{where}: mcp_servers must be a list, got {entries!r}")
        declared: list[dict[str, Any]] = []
        tools: dict[str, tuple[McpTool, ...]] = {}
        for number, entry in enumerate(entries, 1):
            at = f"{where}: mcp server #{number}"
            if not isinstance(entry, dict) or not entry.get("name") or not entry.get("url"):
                raise McpDeclarationError(f"{at}: needs a name and a url, got {entry!r}")
            method = entry.get("authentication_method", "none")
            if method not in AUTHENTICATION_METHODS:
                raise McpDeclarationError(f"{at}: authentication_method must be one of "
                                          f"{', '.join(AUTHENTICATION_METHODS)}, got {method!r}")
            server_id = str(entry.get("id") or stable_id("server", entry["name"]))
            record = {"id": server_id, "name": str(entry["name"]), "url": str(entry["url"]),
                      "authentication_method": method, "has_credentials": method != "none",
                      "enabled": bool(entry.get("enabled", True)),
                      "is_global": bool(entry.get("is_global", True)),
                      "availability_scope": str(entry.get("availability_scope", "company")),
                      "company_id": company_id, "group_id": None}
            declared.append(record)
            tools[server_id] = tuple(_tool(t, f"{at} tool #{k}", server_id, record["name"])
                                     for k, t in enumerate(entry.get("tools") or [], 1))
        return cls(declared, tools, state, company_id, group_id)

    # -- servers ----------------------------------------------------------------------------------

    async def get(self, key: str, company: int | None = None) -> dict[str, Any] | None:
        """A server the company sees, by id, or by name (what ``force_mcp_server`` may give)."""
        found = await self.catalog.get(company, str(key))
        if isinstance(found, dict):
            return found
        return next((s for s in await self.all(company) if s["name"] == key), None)

    async def all(self, company: int | None = None) -> list[dict[str, Any]]:
        """Declared servers first (in the file's order), then the company's created ones, oldest first."""
        created = [r for k, r in (await self.catalog.items(company)).items()
                   if k not in self.seeds and isinstance(r, dict)]
        return [*self.seeds.values(), *sorted(created, key=lambda r: r["number"])]

    async def create(self, name: str, url: str, method: str, credentials: str | None,
                     company: int | None = None) -> dict[str, Any]:
        number = await self.state.incr(COUNTER)
        record: dict[str, Any] = {"id": stable_id("created", number, name), "number": number, "name": name,
                                  "url": url,
                  "authentication_method": method, "has_credentials": bool(credentials),
                  "enabled": True, "is_global": False, "availability_scope": "personal",
                  "company_id": self.company_id, "group_id": self.group_id}
        await self.catalog.add(company, record["id"], record)
        return record

    async def unknown(self, ids: Iterable[str], company: int | None = None) -> list[str]:
        """The ids of ``ids`` that name no server the company sees."""
        return [i for i in ids if await self.get(i, company) is None]

    async def drop_company(self, company_id: int) -> int:
        """A space's reset: the company's created servers go; -> how many."""
        return await self.catalog.drop(company_id)

    # -- tools ------------------------------------------------------------------------------------

    def tools(self, server: dict[str, Any]) -> tuple[McpTool, ...]:
        """A declared server's tools; a created one takes those of the declared server with its URL,
        else its name (renamed after the created server), and has none otherwise."""
        if server["id"] in self._tools:
            return self._tools[server["id"]]
        twin = next((s for s in self.seeds.values() if s["url"] == server["url"]), None) or next(
            (s for s in self.seeds.values() if s["name"] == server["name"]), None)
        if twin is None:
            return ()
        return tuple(McpTool(server["id"], server["name"], t.name, t.description, t.parameters, t.result,
                             t.artifacts) for t in self._tools[twin["id"]])

    async def tools_of(self, server_ids: Iterable[str], company: int | None = None) -> list[McpTool]:
        made: list[McpTool] = []
        for server_id in server_ids:
            server = await self.get(server_id, company)
            if server is not None:
                made.extend(self.tools(server))
        return made


def _tool(entry: Any, where: str, server_id: str, server_name: str) -> McpTool:
    if not isinstance(entry, dict) or not entry.get("name"):
        raise McpDeclarationError(f"{where}: needs a name, got {entry!r}")
    parameters = entry.get("parameters", {"type": "object"})
    if not isinstance(parameters, dict):
        raise McpDeclarationError(f"{where}: parameters must be a JSON schema (a mapping), "
                                  f"got {parameters!r}")
    artifacts = []
    for k, item in enumerate(entry.get("artifacts") or [], 1):
        artifacts.append(artifact(item, f"{where} artifact #{k}"))
    return McpTool(server_id, server_name, str(entry["name"]), str(entry.get("description") or ""),
                   parameters, str(entry.get("result") or ""), tuple(artifacts))


def artifact(entry: Any, where: str) -> Artifact:
    if not isinstance(entry, dict) or not entry.get("name"):
        raise McpDeclarationError(f"{where}: an artifact needs a name, got {entry!r}")
    return Artifact(str(entry["name"]), str(entry.get("content") or ""),
                    str(entry.get("mime_type") or "text/plain"))
