"""A turn's calls of MCP tools: which tool, its arguments, and the scripted result and files."""

from __future__ import annotations

import random
from typing import Any

from ..errors import BadRequest
from ..generation import structured
from ..generation.text import request_key
from . import choices
from .mcp import Artifact, McpTool
from .turn_request import Toolbox, TurnRequest, uuid_from


def scripted_mcp_tool(request: TurnRequest, directory: Toolbox, name: str, server: object) -> McpTool | None:
    """The MCP tool a fixture's tool call names: one of the turn's MCP tools by that name (of the
    server ``mcp_server`` names, by name or id, when given); None for a native tool."""
    if server is None and name in directory.tools:
        return None
    for tool in request.mcp_tools:
        if tool.name == name and server in (None, tool.server_name, tool.server_id):
            return tool
    if server is not None:  # a server the turn does not use: its tool, as the fixture names it
        return McpTool(str(server), str(server), name)
    return None


def best_mcp_tool(tools: tuple[McpTool, ...], query: str) -> McpTool:
    """The forced server's tool whose name and description share the most words with the query
    (the first one on a tie)."""
    asked = _words(query)
    return max(tools, key=lambda t: len(asked & _words(f"{t.name} {t.description}")))


def _words(text: str) -> set[str]:
    return {w for w in "".join(c.lower() if c.isalnum() else " " for c in text).split() if len(w) >= 3}


def _mcp_arguments(request: TurnRequest, tool: McpTool, number: int) -> dict[str, Any]:
    """Arguments valid for the tool's parameters (a JSON instance of its schema, the same for the
    same turn); its first plain string parameter carries the query."""
    rng = random.Random(request_key(request.seed, "mcp-args", request.turn_id, number, tool.id))
    try:
        made = structured.instance(tool.parameters, rng)
    except BadRequest:
        made = {}
    if not isinstance(made, dict):
        return {"input": made}
    properties = tool.parameters.get("properties") or {}
    plain = [k for k, v in properties.items() if isinstance(v, dict) and v.get("type") == "string"
             and not ({"enum", "const", "pattern", "format"} & set(v))]
    required = [k for k in tool.parameters.get("required") or [] if k in plain]
    if required or plain:
        made[(required or plain)[0]] = request.query
    return made


def mcp_call(request: TurnRequest, tool: McpTool, number: int, args: dict[str, Any] | None,
              result: str | None, scripted_artifacts: list[dict[str, Any]] | None) -> dict[str, Any]:
    """A call of an MCP tool: the emulator never reaches the server; the result is the scripted one
    (the fixture's, else the agents file's), and so are the files it produces."""
    if args is None:
        args = _mcp_arguments(request, tool, number)
    text = result if result is not None else tool.result
    tool_call_id = uuid_from("tool_call", request.seed, request.turn_id, number)
    produced = [Artifact(str(a.get("name", f"artifact-{k + 1}")), str(a.get("content", "")),
                         str(a.get("mime_type", "text/plain"))) for k, a in enumerate(scripted_artifacts)] \
        if scripted_artifacts is not None else list(tool.artifacts)
    artifacts = [choices.artifact_record(uuid_from("artifact", request.seed, request.turn_id, number, k),
                                         a.value(), request.thread_id, request.turn_id, tool_call_id,
                                         request.created_at)
                 for k, a in enumerate(produced)]
    stamp = request.created_at
    call = {"id": tool_call_id, "object": "tool_call", "tool": tool.public(), "created_at": stamp,
            "updated_at": stamp, "tool_args": args,
            "steps": [{"status": status, "created_at": stamp,
                       "progress_report": {"progress_percentage": progress, "current_progress_text": words,
                                           "time_remaining_estimate": None, "metadata": {}}}
                      for status, progress, words in choices.mcp_steps(tool.server_name, tool.name)],
            "result": {"text": text, "file_artifacts": [choices.artifact_brief(a) for a in artifacts],
                       "web_sources": [], "chunk_sources": []}}
    return {"tool_call": call, "sources": [], "answer": text, "artifacts": artifacts}
