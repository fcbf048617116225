"""/api/v3/agents (+ /{id}, /{id}/tools, /{id}/tags), /api/v3/tools, /api/v3/groups, /api/v3/users/me;
the deprecated /api/v3/agent/chat_settings/{id}/tools.

The seeds come from fixtures/agents.yaml (``conversations.directory``); agents created or
changed here are records of the state backend. Lists are DRF pages of 20.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.responses import Response

from ..call import Call, Handler, json_response
from ..conversations import choices
from ..conversations.directory import AgentDirectory
from ..conversations.mcp import McpServers, brief_server, public_server
from ..conversations.scope import DocumentScope
from ..conversations.users import UserSettings
from ..documents.workspace_store import WorkspaceStore
from ..documents.workspaces import iso
from ..errors import NotFound, ValidationError
from ..identity.directory import me_body
from ..identity.overlay import company_of
from ..identity.users import User
from .common import body_of, paginate

_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


def _flag(value: Any) -> bool | None:
    if value is None:
        return None
    return str(value).lower() in _TRUE


class Agents:
    """The agents, their tools and tags; the native tools, the groups and the user."""

    def __init__(self, agents: AgentDirectory, workspaces: WorkspaceStore, documents: DocumentScope,
                 mcp: McpServers, users: UserSettings):
        self.agents, self.workspaces, self.documents = agents, workspaces, documents
        self.mcp, self.users = mcp, users

    def handlers(self) -> dict[str, Handler]:
        return {"api_v3_agents_list": self.list_agents, "api_v3_agents_create": self.create_agent,
                "api_v3_agents_retrieve": self.retrieve_agent,
                "api_v3_agents_partial_update": self.update_agent,
                "api_v3_agents_tools_retrieve": self.agent_tools, "api_v3_agents_tags_list": self.agent_tags,
                "api_v3_tools_list": self.list_tools, "api_v3_groups_list": self.list_groups,
                "api_v3_users_me_retrieve": self.me, "api_v3_users_me_partial_update": self.update_me,
                "api_v3_agent_chat_settings_tools_retrieve": self.chat_setting_tools}

    async def _servers(self, agent: dict[str, Any], viewer: User | None) -> list[dict[str, Any]]:
        """The agent's MCP servers (those that still exist for the viewer's company), in its order."""
        company = company_of(viewer)
        found = [await self.mcp.get(i, company) for i in agent.get("mcp_server_ids") or []]
        return [s for s in found if s is not None]

    async def _server_ids(self, ids: list[Any], viewer: User | None) -> list[str]:
        company = company_of(viewer)
        unknown = await self.mcp.unknown([str(i) for i in ids], company)
        if unknown:
            missing = [choices.does_not_exist("m", i)["m"][0] for i in unknown]
            raise ValidationError({"mcp_server_ids": missing})
        return [(await self.mcp.get(str(i), company) or {"id": str(i)})["id"] for i in ids]

    async def render_agent(self, agent: dict[str, Any], viewer: User | None) -> dict[str, Any]:
        """The agent as ``viewer`` sees it: its workspaces those the viewer sees (the seed's personal and
        company workspaces stand for the viewer's own), their file counts the viewer's files."""
        directory = self.agents
        group = directory.groups.get(agent.get("group_id", 0))
        company = directory.company
        workspaces = []
        for workspace in await self.workspaces.resolve(agent.get("workspaces", []), viewer):
            workspaces.append({"id": workspace.id, "name": workspace.name,
                               "category": workspace.workspace_type,
                               "file_count": await self.documents.count_in_workspace(workspace.id, viewer),
                               "summaries": []})
        return {
            "id": agent["id"], "name": agent["name"], "description": agent.get("description"),
            "instructions": agent.get("instructions"),
            "company": {"id": company["id"], "name": company["name"],
                        "allow_ephemeral_mode": bool(company.get("allow_ephemeral_mode", True)),
                        "is_sharing_enabled": bool(company.get("is_sharing_enabled", True))},
            "group": {"name": group.name, "id": group.id} if group is not None else None,
            "workspaces": workspaces,
            "tools": {"native": [directory.tools[name].brief() for name in directory.tool_names(agent)],
                      "mcp_servers": [brief_server(s) for s in await self._servers(agent, viewer)]},
            "is_default": agent.get("is_default", False),
            "scope_workspaces_by_group": agent.get("scope_workspaces_by_group", False),
            "is_current_user_favorite": agent.get("is_current_user_favorite", False),
            "created_at": agent["created_at"], "updated_at": agent["updated_at"],
        }

    async def _agent_or_404(self, call: Call) -> dict[str, Any]:
        return await agent_or_404(self.agents, call)

    def _tool_names(self, field: str, ids: list[str]) -> list[str]:
        directory = self.agents
        unknown = [i for i in ids if i not in directory.tools_by_id]
        if unknown:
            raise ValidationError({field: [choices.does_not_exist(field, i)[field][0] for i in unknown]})
        return [directory.tools_by_id[i].name for i in ids]

    # -- /api/v3/agents -------------------------------------------------------------------------------

    async def list_agents(self, call: Call) -> Response:
        query = call.query
        agents = await self.agents.all(company_of(call.user))
        if "company_id" in query:
            agents = [a for a in agents if a.get("company_id") == query["company_id"]]
        if "group_id" in query:
            agents = [a for a in agents if a.get("group_id") == query["group_id"]]
        for key in ("is_default", "is_current_user_favorite"):
            wanted = _flag(query.get(key))
            if wanted is not None:
                agents = [a for a in agents if bool(a.get(key)) == wanted]
        if query.get("name"):
            prefix = str(query["name"]).lower()
            agents = [a for a in agents if a["name"].lower().startswith(prefix)]
        page, count, following, previous = paginate(call.request, agents, query.get("page", 1),
                                                    choices.AGENTS_PAGE)
        return json_response({"count": count, "next": following, "previous": previous,
                              "results": [await self.render_agent(a, call.user) for a in page]})

    async def create_agent(self, call: Call) -> Response:
        body = call.body
        directory = self.agents
        problems: dict[str, list[str]] = {}
        company_id = body.get("company_id", directory.company["id"])
        if company_id != directory.company["id"]:
            problems.update(choices.does_not_exist("company_id", company_id))
        group_id = body.get("group_id")
        if group_id is not None and group_id not in directory.groups:
            problems.update(choices.does_not_exist("group_id", group_id))
        if body.get("ownership") == "team" and group_id is None:
            problems["group_id"] = ["This field is required when ownership is team."]
        workspace_ids = body.get("scoped_workspace_ids") or []
        known = await self.workspaces.workspaces(call.user)
        unknown = [w for w in workspace_ids if w not in known]
        if unknown:
            problems["scoped_workspace_ids"] = [choices.does_not_exist("w", w)["w"][0] for w in unknown]
        if problems:
            raise ValidationError(problems)
        tools = self._tool_names("native_tool_ids", body.get("native_tool_ids") or [])
        servers = await self._server_ids(list(body.get("mcp_server_ids") or []), call.user)
        if group_id is None:  # personal (or company) ownership: the user's personal group, else the first
            personal = [g.id for g in directory.groups.values() if g.category == "personal"]
            group_id = personal[0] if personal and body.get("ownership") != "company" \
                else next(iter(directory.groups))
        record = await directory.create({
            "name": body["name"], "description": body.get("description"),
            "instructions": body.get("instructions"),
            "company_id": company_id, "group_id": group_id, "tools": tools,
            "mcp_server_ids": servers,
            "scope_workspaces_by_group": bool(body.get("scope_workspaces_by_group", False)),
            "workspaces": workspace_ids or list(known)}, company_of(call.user))
        return json_response(await self.render_agent(record, call.user), status=201)

    async def retrieve_agent(self, call: Call) -> Response:
        return json_response(await self.render_agent(await self._agent_or_404(call), call.user))

    async def update_agent(self, call: Call) -> Response:
        body = body_of(call)
        agent = await self._agent_or_404(call)
        fields = ("name", "description", "instructions", "scope_workspaces_by_group")
        changes: dict[str, Any] = {k: body[k] for k in fields if body.get(k) is not None}
        if body.get("native_tool_ids") is not None:
            changes["tools"] = self._tool_names("native_tool_ids", body["native_tool_ids"])
        if body.get("mcp_server_ids") is not None:
            changes["mcp_server_ids"] = await self._server_ids(list(body["mcp_server_ids"]), call.user)
        if changes:
            changes["updated_at"] = await self.agents.update_stamp()
            agent = await self.agents.patch(agent["id"], changes, company_of(call.user)) or agent
        return json_response(await self.render_agent(agent, call.user))

    async def _tools(self, call: Call, server: Callable[[dict[str, Any]], dict[str, Any]]) -> Response:
        """The agent's native tools and its MCP servers, each server shown by ``server``."""
        agent = await self._agent_or_404(call)
        directory = self.agents
        native = [directory.tools[name].public() for name in directory.tool_names(agent)]
        servers = [server(s) for s in await self._servers(agent, call.user)]
        return json_response({"native": native, "mcp_servers": servers})

    async def agent_tools(self, call: Call) -> Response:
        return await self._tools(call, public_server)

    async def chat_setting_tools(self, call: Call) -> Response:
        """The deprecated route of the same list (a chat setting is an agent): brief server items."""
        return await self._tools(call, brief_server)

    async def agent_tags(self, call: Call) -> Response:
        query = call.query
        agent = await self._agent_or_404(call)
        seen = {w.id for w in await self.workspaces.resolve(agent.get("workspaces", []), call.user)}
        counts = await self.documents.tag_counts(seen, call.user)
        tags = []
        for tag in sorted((await self.workspaces.tags(call.user)).values(), key=lambda t: t.id):
            if not counts.get(tag.id):  # the docs: tags used in documents within the agent's workspaces
                continue
            auto_assign = tag.auto_assign
            if "auto_assign" in query and query["auto_assign"] != auto_assign:
                continue
            if query.get("tag") and str(query["tag"]).lower() not in tag.name.lower():
                continue
            stamp = iso(tag.created_at)
            tags.append({"id": tag.id, "name": tag.name, "description": tag.description,
                         "auto_assign": auto_assign, "created_at": stamp,
                         "updated_at": iso(tag.updated_at or tag.created_at),
                         "document_count": counts[tag.id]})
        return json_response(tags)

    # -- /api/v3/tools, /groups, /users/me --------------------------------------------------------------

    async def list_tools(self, call: Call) -> Response:
        directory = self.agents
        # Another company's tools are a sys-admin's to inspect: for this user there are none (as the
        # groups list answers for another company).
        if call.query.get("company_id", directory.company["id"]) != directory.company["id"]:
            return json_response([])
        return json_response([tool.public() for tool in directory.tools.values()])

    async def list_groups(self, call: Call) -> Response:
        directory = self.agents
        query, user = call.query, directory.user
        roles = {m["id"]: m.get("role", "member") for m in user.get("groups", [])}
        groups = list(directory.groups.values())
        if "company_id" in query and query["company_id"] != directory.company["id"]:
            groups = []
        if query.get("search"):
            groups = [g for g in groups if str(query["search"]).lower() in g.name.lower()]
        if "user_id" in query:
            groups = [g for g in groups if query["user_id"] == user["id"] and g.id in roles]
            if query.get("has_role"):
                groups = [g for g in groups if roles.get(g.id) == query["has_role"]]
        stamp = iso(directory.epoch - 86400)
        rows = [{"id": g.id, "company_id": directory.company["id"], "category": g.category, "name": g.name,
                 "description": g.description, "user_ids": str(user["id"]) if g.id in roles else "",
                 "created_at": stamp, "updated_at": stamp} for g in groups]
        page, count, following, previous = paginate(call.request, rows, query.get("page", 1),
                                                    query.get("per_page", choices.AGENTS_PAGE))
        return json_response({"count": count, "next": following, "previous": previous, "results": page})

    async def update_me(self, call: Call) -> Response:
        """The user's language, agent instructions, help and terms flags, kept on the backend."""
        await self.users.patch(_settings_owner(call, self.agents.user), body_of(call))
        return await self.me(call)

    async def me(self, call: Call) -> Response:
        directory = self.agents
        user, company = directory.user, directory.company
        body = {
            "profile": {"id": user["id"], "username": user["username"], "full_name": user["full_name"],
                        "email": user["email"]},
            "company": {"id": company["id"], "name": company["name"],
                        "login_method": company.get("login_method")},
            # The documented names (newer docs): has_monitoring_permission, settings.agent_instructions;
            # the settings and compliance values are the user record's fields of the same names.
            "permissions": {"is_admin": bool(user.get("is_admin", True)), "can_manage_documents": True,
                            "can_manage_api_keys": True,
                            "has_monitoring_permission": bool(user.get("is_admin", True))},
            "settings": {"language": user.get("language", "en"),
                         "skip_help_step": bool(user.get("skip_help_step", True)),
                         "agent_instructions": user.get("agent_instructions")},
            "compliance": {"terms_accepted": bool(user.get("terms_accepted", True))},
            "groups": [{"id": m["id"], "name": directory.groups[m["id"]].name,
                        "role": m.get("role", "member")}
                       for m in user.get("groups", []) if m["id"] in directory.groups],
        }
        # A user of --users answers for themselves; a key's implicit user is the agents file's one.
        caller = call.user
        if caller is not None and not caller.implicit:
            body = me_body(caller, body)
        return json_response(_with_settings(await self.users.get(_settings_owner(call, user)), body))


async def agent_or_404(agents: AgentDirectory, call: Call) -> dict[str, Any]:
    """The path's agent, if the caller's company has it; else DRF's 404 (another company's included)."""
    agent = await agents.get(call.path_params["id"], company_of(call.user))
    if agent is None:
        raise NotFound()
    return agent


def _settings_owner(call: Call, profile_user: dict[str, Any]) -> Any:
    """Whose settings a users/me call reads and writes: the caller's, or the agents file's user."""
    caller = call.user
    return caller.id if caller is not None and not caller.implicit else profile_user["id"]


def _with_settings(kept: dict[str, Any], profile: dict[str, Any]) -> dict[str, Any]:
    """users/me with what the user changed (PATCH) laid over the agents file's values."""
    settings = {"agent_instructions": None, **profile["settings"],
                **{k: kept[k] for k in ("language", "skip_help_step", "agent_instructions") if k in kept}}
    compliance = {**profile["compliance"], **({"terms_accepted": kept["terms_accepted"]}
                                              if "terms_accepted" in kept else {})}
    return {**profile, "settings": settings, "compliance": compliance}
