"""A turn request as the planner reads it, the services its tools use, and the ids made from it."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ..call import Script
from ..catalog import Model
from ..identity.users import User
from .directory import Tool
from .mcp import McpTool
from .scope import Passage, Scope


class Documents(Protocol):
    """The document scope and search a turn's tools use (``conversations.scope``)."""

    async def scope(self, body: dict[str, Any], viewer: User | None = None) -> Scope: ...

    async def search(self, query: str, file_ids: Collection[int], n: int = 5) -> list[Passage]: ...

    async def filenames(self, file_ids: Collection[int]) -> dict[int, str]: ...

    def answer(self, question: str, passages: list[Passage]) -> tuple[str, set[int]]: ...

    def summary(self, passages: list[Passage], names: dict[int, str]) -> str: ...


class Toolbox(Protocol):
    """The agents' tools (``conversations.directory.AgentDirectory``)."""

    @property
    def tools(self) -> Mapping[str, Tool]: ...

    def tool_names(self, agent: dict[str, Any]) -> list[str]: ...


@dataclass
class TurnRequest:
    """A validated turn request, with what it resolved to."""

    query: str
    agent: dict[str, Any]
    model: Model
    thread_id: str
    turn_id: str
    index: int  # the turn's place in its thread, from 0
    created_at: str  # ISO display time (deterministic)
    history: list[tuple[str, str]]  # (query, answer) of the thread's earlier turns
    body: dict[str, Any]
    scope: Scope
    script: Script | None = None  # the fixture use that answers the turn, if any
    seed: int = 0
    turn_ms: float = 0.0
    ttft_ms: float = 0.0
    itl_ms: float = 0.0
    # The MCP tools the turn may call (its agent's servers' and the forced server's), and those of
    # the server ``force_mcp_server`` names: the agent calls one of these.
    mcp_tools: tuple[McpTool, ...] = ()
    forced_mcp: tuple[McpTool, ...] = ()


def uuid_from(*parts: Any) -> str:
    """An id from simple parts (strings, numbers): a hash of their text, cheaper than request_key's JSON."""
    h = hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()
    # The UUID4 layout (version nibble 4, variant 10xx), written directly: 5x cheaper than uuid.UUID.
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[int(h[16], 16) & 3]}{h[17:20]}-{h[20:32]}"


_VARIANT = "89ab"
