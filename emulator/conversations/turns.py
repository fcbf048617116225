"""The v3 turn logic: what a turn request names, its plan, its record, and reading it back.

``TurnService`` is built with what a turn reads (the conversations store, the agents, the model
catalog, the shared clock, the settings, the document scope); the HTTP handler
(``handlers/threads.py``) only parses and answers. A turn goes through the pipeline as every
model call does: ``prepare`` checks the request and leaves the facts its fixture conditions read
on the call, the delivery step matches it and picks its source (a fixture or the generator),
and ``start`` plans the turn from that source and stores it with its thread.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ..call import Call, Script
from ..catalog import Catalog, Model
from ..config import Settings
from ..errors import ApiError, ModelNotFound, ValidationError
from ..identity.overlay import company_of
from ..identity.ownership import OWNER_COMPANY, owner_fields, owner_of
from ..state import Clock
from . import choices, timeline
from .directory import Tool
from .mcp import McpServers, McpTool
from .plan import plan_turn
from .records import Conversations, Record
from .scope import Scope
from .turn_request import Documents, TurnRequest


class TurnRunning(ApiError):
    """A turn asked of a thread whose last turn still runs (409)."""

    status = choices.TURN_RUNNING_STATUS


class Agents(Protocol):
    """The agents a turn may name (``conversations.directory.AgentDirectory``, over the backend)."""

    default_id: int

    @property
    def seeds(self) -> Mapping[int, dict[str, Any]]: ...

    @property
    def tools(self) -> Mapping[str, Tool]: ...

    async def get(self, agent_id: Any, company: int | None = None) -> dict[str, Any] | None: ...

    def tool_names(self, agent: dict[str, Any]) -> list[str]: ...


@dataclass
class Prepared:
    """A checked turn request, before its source is known."""

    thread: Record | None
    agent: dict[str, Any]
    model: Model
    scope: Scope
    history: list[tuple[str, str]]
    index: int
    mcp_tools: tuple[McpTool, ...] = ()  # what the turn may call of its MCP servers
    forced_mcp: tuple[McpTool, ...] = ()  # the tools of the server force_mcp_server names
    owner: dict[str, Any] = dataclasses.field(default_factory=dict)  # the caller's: a new thread is theirs


class TurnService:
    def __init__(self, conversations: Conversations, agents: Agents, catalog: Catalog, clock: Clock,
                 settings: Settings, documents: Documents, mcp: McpServers | None = None):
        self.conversations, self.agents, self.catalog = conversations, agents, catalog
        self.clock, self.settings, self.documents = clock, settings, documents
        self.mcp = mcp

    # -- what a request names ------------------------------------------------------------------------

    async def agent(self, body: dict[str, Any], default_id: int | None = None,
                    company: int | None = None) -> dict[str, Any]:
        """agent_id wins over the deprecated chat_setting_id; neither: the thread's, else the default
        (each as the caller's company has it: another company's agent does not exist)."""
        agents = self.agents
        for field in ("agent_id", "chat_setting_id"):
            if body.get(field) is not None:
                agent = await agents.get(body[field], company)
                if agent is None:
                    raise ValidationError(choices.does_not_exist(field, body[field]))
                return agent
        agent = await agents.get(default_id if default_id is not None else agents.default_id, company)
        return agent or agents.seeds[agents.default_id]

    def model(self, name: Any) -> Model:
        catalog = self.catalog
        if name is None:
            chat = [m for m in catalog.models if m.kind == "chat" and m.extra.get("enabled") is not False]
            if not chat:
                raise ValidationError({"ml_model": ["The model catalog has no chat model."]})
            return chat[0]
        try:
            model = catalog.get(name)
        except ModelNotFound:
            raise ValidationError(choices.unknown_model(name)) from None
        if model.kind != "chat":
            raise ValidationError(choices.not_a_chat_model(name))
        return model

    def check_tool(self, body: dict[str, Any]) -> None:
        forced = body.get("force_tool")
        if forced is not None and forced not in self.agents.tools:
            raise ValidationError(choices.unknown_tool(forced, sorted(self.agents.tools)))

    async def mcp_tools(self, body: dict[str, Any], agent: dict[str, Any], company: int | None = None
                        ) -> tuple[tuple[McpTool, ...], tuple[McpTool, ...]]:
        """(the MCP tools the turn may call, those of the forced server): the server that
        ``force_mcp_server`` names (by id or name) must exist for the caller's company."""
        forced_key = body.get("force_mcp_server")
        if self.mcp is None:
            if forced_key is not None:
                raise ValidationError(choices.does_not_exist("force_mcp_server", forced_key))
            return (), ()
        forced: tuple[McpTool, ...] = ()
        if forced_key is not None:
            server = await self.mcp.get(str(forced_key), company)
            if server is None:
                raise ValidationError(choices.does_not_exist("force_mcp_server", forced_key))
            forced = self.mcp.tools(server)
        others = await self.mcp.tools_of(agent.get("mcp_server_ids") or [], company)
        return (*forced, *[t for t in others if t not in forced]), forced

    async def history(self, thread: Record) -> list[tuple[str, str]]:
        """The (query, answer) of the thread's completed turns; a turn still running is a 409."""
        now = await self.clock.now()
        if thread["turns"] and thread.get("busy_until", 0.0) > now:
            raise TurnRunning(choices.turn_running(thread["id"], thread["turns"][-1])["detail"])
        return [(earlier["query"], timeline.answer_text(earlier))
                for earlier in await self.conversations.turns_of(thread)
                if timeline.status_at(earlier, now)[0] == "completed"]

    # -- a turn ----------------------------------------------------------------------------------------

    async def prepare(self, call: Call, thread: Record | None) -> Prepared:
        """Check the request; leave on the call what its fixture conditions read (turn index, agent
        id, forced tool)."""
        body = call.body
        company = company_of(call.user)
        agent = await self.agent(body, thread["agent_id"] if thread else None, company)
        model = self.model(body.get("ml_model") or (thread or {}).get("ml_model"))
        self.check_tool(body)
        mcp_tools, forced_mcp = await self.mcp_tools(body, agent, company)
        scope = await self.documents.scope(body, call.user)
        history = await self.history(thread) if thread is not None else []
        index = len(thread["turns"]) if thread else 0
        call.turn_context = {"index": index, "agent_id": agent["id"], "force_tool": body.get("force_tool")}
        return Prepared(thread, agent, model, scope, history, index, mcp_tools, forced_mcp,
                        owner_fields(call.user))

    async def start(self, body: dict[str, Any], prepared: Prepared, script: Script | None) -> Record:
        """Plan the turn (from the fixture that answers it, else the generator), store it with its thread."""
        return await self.store(body, prepared.thread, await self.plan(body, prepared, script))

    async def plan(self, body: dict[str, Any], prepared: Prepared, script: Script | None) -> Record:
        """The turn record (not stored yet): its ids, its plan and its start on the shared clock."""
        settings, conversations, thread, agent, model = (
            self.settings, self.conversations, prepared.thread, prepared.agent, prepared.model)
        if thread is None:
            thread_id, thread_created = await conversations.new_thread_ids()
        else:
            thread_id, thread_created = thread["id"], thread["created_at"]
        turn_id, created_at, _ = await conversations.new_turn_ids()
        request = TurnRequest(
            query=body["query"], agent=agent, model=model, thread_id=thread_id, turn_id=turn_id,
            index=prepared.index, created_at=created_at, history=prepared.history, body=body,
            scope=prepared.scope, script=script, seed=settings.seed, turn_ms=settings.turn_ms,
            ttft_ms=settings.ttft_ms, itl_ms=settings.itl_ms, mcp_tools=prepared.mcp_tools,
            forced_mcp=prepared.forced_mcp)
        plan = await plan_turn(self.agents, self.documents, request)
        tool = self.agents.tools.get(body.get("force_tool") or "")
        return {
            "id": turn_id, "thread": thread_id, "thread_created_at": thread_created, "index": request.index,
            "created_at": created_at, "start": await self.clock.now(), "duration": plan.duration,
            "outcome": plan.outcome, "error": plan.error, "query": body["query"],
            "user_message_id": conversations.message_id(turn_id, "user"),
            "assistant_message_id": conversations.message_id(turn_id, "assistant"),
            "timeline": plan.timeline, "answer": plan.answer, "sources": plan.sources, "cancel_at": None,
            "artifacts": plan.artifacts,
            "liked": None, "force_tool": tool.public() if tool is not None else None,
            "immediate_final_answer": bool(body.get("immediate_final_answer")),
            "agent_id": agent["id"], "ml_model": model.technical_name,
            # Who asked: a new thread is theirs, and a turn is seen (its sources too) as its thread is.
            **prepared.owner,
        }

    async def store(self, body: dict[str, Any], thread: Record | None, record: Record) -> Record:
        """Write the turn, then its thread: a new one with the turn in it, or the turn claimed into an
        existing one (a 409 when another turn got there first)."""
        conversations = self.conversations
        await conversations.put_turn(record)
        for artifact in record.get("artifacts") or []:  # GET /api/v3/artifacts/{id} finds its turn
            await conversations.index_artifact(artifact["id"], record["id"])
        title = body.get("name") or choices.thread_title(body["query"])
        if thread is None:  # a thread nobody else knows yet: created with its turn, nothing to claim
            await conversations.create_thread(record["thread"], record["thread_created_at"], {
                "name": title, "agent_id": record["agent_id"], "ml_model": body.get("ml_model"),
                "is_ephemeral": bool(body.get("is_ephemeral")), "turns": [record["id"]],
                "busy_until": timeline.busy_until(record), "updated_at": record["created_at"],
                **owner_of(record)})
            return record
        _, running = await conversations.claim(record["thread"], record, record["start"], title)
        if running is not None:
            await conversations.drop_turn(record["id"])
            raise TurnRunning(choices.turn_running(record["thread"], running)["detail"])
        return record

    def rereader(self, record: Record) -> Callable[[], Awaitable[tuple[Record, float]]]:
        """The turn as stored now, and the clock: what a waiting answer or a stream reads back."""
        conversations, clock = self.conversations, self.clock

        async def reread() -> tuple[Record, float]:
            latest = await conversations.turn(record["id"])
            return latest or record, await clock.now()

        return reread

    # -- threads as the API shows them -----------------------------------------------------------------

    async def render_thread(self, thread: Record, now: float) -> dict[str, Any]:
        last = await self.conversations.turn(thread["turns"][-1]) if thread["turns"] else None
        status = timeline.status_at(last, now)[0] if last is not None else "completed"
        agent = await self.agents.get(thread["agent_id"], thread.get(OWNER_COMPANY))
        model = thread.get("ml_model")
        try:
            model_name = self.catalog.get(model).name if model else None
        except ModelNotFound:
            model_name = None
        return {"id": thread["id"], "object": "thread", "name": thread["name"], "status": status,
                "ml_model": model, "ml_model_name": model_name, "agent_id": thread["agent_id"],
                "agent_name": agent["name"] if agent else None, "chat_setting": thread["agent_id"],
                "creation_source": "api", "is_read": True, "created_at": thread["created_at"],
                "updated_at": thread["updated_at"], "is_ephemeral": thread["is_ephemeral"],
                "is_archived": thread["is_archived"], "legacy": False,
                choices.THREAD_TOOL_PARAMS: thread.get(choices.THREAD_TOOL_PARAMS)}
