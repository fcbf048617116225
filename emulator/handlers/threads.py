"""/api/v3/threads, /threads/turns, /threads/{id}, /threads/{id}/turns (+ /{turn_id}), /api/v3/sources.

HTTP only: the turn logic is ``conversations.turns.TurnService``. A turn is a model call: its
handler checks the request and returns a ``Draft``; the delivery step matches its fixture and
picks its source (the fixture or the generator), then ``finish`` plans the turn, stores it with
its start on the shared clock, and answers: waits for it (at most --turn-wait-ms: 200 when it
finished, 202 with the turn as it is otherwise), answers 202 at once (``background``), or
streams its events as they happen (``stream``). Reads render the stored turn as of now
(``timeline``).
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import URL
from starlette.responses import Response

from ..call import Call, Draft, Handler, Script, json_response
from ..conversations import choices, timeline
from ..conversations.records import Record
from ..conversations.turns import Clock, Prepared, TurnRunning, TurnService
from ..errors import NotFound, ValidationError
from ..identity.ownership import owner_fields, require_visible, visible
from ..sse import event_stream
from .common import body_of

__all__ = ["Threads", "TurnRunning"]


@dataclass(frozen=True)
class TurnOrder:
    """A turn's answer source: the fixture that answers it, or None for the generator (the planner)."""

    script: Script | None


_GENERATED = TurnOrder(None)


def _cursor_page(url: URL, items: list[Record], query: dict[str, Any],
                 limit: int) -> tuple[list[Record], Any, Any]:
    """Cursor pagination over ids: -> (the page, next URL, previous URL)."""
    ids = [item["id"] for item in items]
    after, before = query.get("starting_after"), query.get("ending_before")
    for field, cursor in (("starting_after", after), ("ending_before", before)):
        if cursor is not None and cursor not in ids:
            raise ValidationError({field: [f'"{cursor}" is not an id of this list.']})
    if after is not None:
        rest = items[ids.index(after) + 1:]
        page, more, earlier = rest[:limit], len(rest) > limit, True
    elif before is not None:
        head = items[:ids.index(before)]
        page, more, earlier = head[-limit:], True, len(head) > limit
    else:
        page, more, earlier = items[:limit], len(items) > limit, False
    bare = url.remove_query_params(["starting_after", "ending_before"])
    following = str(bare.include_query_params(starting_after=page[-1]["id"])) if more and page else None
    previous = str(bare.include_query_params(ending_before=page[0]["id"])) if earlier and page else None
    return page, following, previous


class Threads:
    def __init__(self, turns: TurnService, clock: Clock, turn_wait_ms: float):
        self.turns, self.clock, self.turn_wait_ms = turns, clock, turn_wait_ms
        self.conversations = turns.conversations

    def handlers(self) -> dict[str, Handler]:
        return {
            "api_v3_threads_create": self.create_thread,
            "api_v3_threads_list": self.list_threads,
            "api_v3_threads_retrieve_2": self.retrieve_thread,
            "api_v3_threads_partial_update": self.update_thread,
            "api_v3_threads_turns_create": self.create_thread_turn,
            "api_v3_threads_turns_create_2": self.create_turn,
            "api_v3_threads_turns_list": self.list_turns,
            "api_v3_threads_turns_partial_update": self.update_turn,
            "api_v3_sources_retrieve": self.list_sources,
        }

    async def _thread_or_404(self, call: Call) -> Record:
        thread = await self.conversations.thread(str(call.path_params["id"]))
        return require_visible(thread, call.user)  # another user's thread is DRF's 404 too

    # -- threads ------------------------------------------------------------------------------------

    async def create_thread(self, call: Call) -> Response:
        body = body_of(call)
        agent = await self.turns.agent(body)
        conversations = self.conversations
        thread_id, created_at = await conversations.new_thread_ids()
        thread = await conversations.create_thread(thread_id, created_at, {
            "name": body.get("name") or "", "agent_id": agent["id"],
            "is_ephemeral": bool(body.get("is_ephemeral")), **owner_fields(call.user)})
        return json_response(await self.turns.render_thread(thread, await self.clock.now()), status=201)

    async def list_threads(self, call: Call) -> Response:
        query = call.query
        threads = [t for t in reversed(await self.conversations.threads())
                   if not t["is_ephemeral"] and visible(t, call.user)]
        if query.get("creation_source") is not None and query["creation_source"] != "api":
            threads = []
        if query.get("search"):
            threads = [t for t in threads if str(query["search"]).lower() in t["name"].lower()]
        page, following, previous = _cursor_page(call.request.url, threads, query,
                                                 query.get("limit", choices.THREADS_PAGE))
        now = await self.clock.now()
        return json_response({"results": [await self.turns.render_thread(t, now) for t in page],
                              "count": len(threads), "next": following, "previous": previous})

    async def retrieve_thread(self, call: Call) -> Response:
        thread = await self._thread_or_404(call)
        return json_response(await self.turns.render_thread(thread, await self.clock.now()))

    async def update_thread(self, call: Call) -> Response:
        body = body_of(call)
        conversations = self.conversations
        thread = await self._thread_or_404(call)
        if call.query.get("anonymize") and not thread["is_ephemeral"]:
            raise ValidationError({"anonymize": ["Only an ephemeral thread can be anonymized."]})
        changes: dict[str, Any] = {}
        if "ml_model" in body:
            changes["ml_model"] = self.turns.model(body["ml_model"]).technical_name
        for key in ("name", "is_archived"):
            if key in body:
                changes[key] = body[key]
        if call.query.get("cancel"):
            now = await self.clock.now()
            cancelled = (await conversations.cancel(thread["id"], thread["turns"][-1], now)
                         if thread["turns"] else None)
            if cancelled is None:
                raise ValidationError(choices.NOTHING_TO_CANCEL)
        if changes:
            thread = await conversations.patch_thread(thread["id"], changes) or thread
        else:
            thread = await conversations.thread(thread["id"]) or thread
        return json_response(await self.turns.render_thread(thread, await self.clock.now()))

    # -- turns --------------------------------------------------------------------------------------

    async def create_thread_turn(self, call: Call) -> Draft[TurnOrder]:
        """POST /api/v3/threads/turns: a new thread and its first turn (never streamed)."""
        return await self._turn(call, None, stream=False)

    async def create_turn(self, call: Call) -> Draft[TurnOrder]:
        thread = await self._thread_or_404(call)
        return await self._turn(call, thread, stream=bool(call.body.get("stream")))

    async def _turn(self, call: Call, thread: Record | None, stream: bool) -> Draft[TurnOrder]:
        """The turn's draft: checked now; planned, stored and answered once its source is known."""
        prepared = await self.turns.prepare(call, thread)

        async def finish(order: TurnOrder) -> Response:
            return await self._answer(call, prepared, order.script, stream)

        return Draft(call=call, n=None, stream=stream, prompt_tokens=0, generate=lambda: _GENERATED,
                     body_of=_no_body, scripted=TurnOrder, finish=finish)

    async def _answer(self, call: Call, prepared: Prepared, script: Script | None, stream: bool) -> Response:
        record = await self.turns.start(call.body, prepared, script)
        if stream:
            return event_stream(timeline.stream(record, record["start"], self.turns.rereader(record)))
        return await self._settled(call, record)

    async def _settled(self, call: Call, record: Record) -> Response:
        """202 at once (background); else sleep until the turn's known end, at most --turn-wait-ms:
        200 when it has ended, 202 with the turn as it is otherwise (it goes on without the client)."""
        if call.body.get("background"):
            return json_response(timeline.render(record, await self.clock.now()), status=202)
        reread = self.turns.rereader(record)
        give_up = record["start"] + self.turn_wait_ms / 1000
        latest, now = record, record["start"]  # a turn that takes no time is answered without reading it back
        while True:
            status, _ = timeline.status_at(latest, now)
            if status not in timeline.ACTIVE:
                return json_response(timeline.render(latest, now), status=200)
            if now >= give_up:
                return json_response(timeline.render(latest, now), status=202)
            await asyncio.sleep(min(timeline.busy_until(latest), give_up) - now + 0.0005)
            latest, now = await reread()

    async def list_turns(self, call: Call) -> Response:
        thread = await self._thread_or_404(call)
        turns = await self.conversations.turns_of(thread)
        page, following, previous = _cursor_page(call.request.url, turns, call.query,
                                                 call.query.get("limit", choices.TURNS_PAGE))
        now = await self.clock.now()
        return json_response({"count": len(turns), "next": following, "previous": previous,
                              "results": [timeline.render(t, now) for t in page]})


    async def update_turn(self, call: Call) -> Response:
        thread = await self._thread_or_404(call)
        turn_id = str(call.path_params["turn_id"])
        if turn_id not in thread["turns"]:
            raise NotFound()
        body = body_of(call)
        action = call.query["action"]
        if action == "like_dislike":
            changes: dict[str, Any] = {"liked": body.get("liked", True)}  # no body: a like
        elif action == "copied":
            changes = {"copied": True}
        else:
            changes = {"flagged": True}
        await self.conversations.patch_turn(turn_id, changes)
        return json_response(choices.ACTION_DONE)


    # -- sources ----------------------------------------------------------------------------------------

    async def list_sources(self, call: Call) -> Response:
        query, conversations = call.query, self.conversations
        if query.get("turn_id"):
            turn = await conversations.turn(str(query["turn_id"]))
            if turn is None or (query.get("thread_id") and turn["thread"] != query["thread_id"]) \
                    or not visible(turn, call.user):
                raise NotFound()
            turns = [turn]
        elif query.get("thread_id"):
            thread = require_visible(await conversations.thread(str(query["thread_id"])), call.user)
            turns = await conversations.turns_of(thread)
        else:
            turns = [t for t in await conversations.all_turns() if visible(t, call.user)]
        now = await self.clock.now()
        found = []
        for turn in turns:
            _, reached = timeline.status_at(turn, now)
            for source in turn.get("sources", []):
                if source["available_at"] <= reached or reached == math.inf:
                    found.append({k: v for k, v in source.items() if k != "available_at"})
        if query.get("tool_call_id"):
            found = [s for s in found if s["tool_call_id"] == query["tool_call_id"]]
        if query.get("id"):
            found = [s for s in found if s["id"] == query["id"]]
        if query.get("source_type") == "web":
            found = []
        size = query.get("per_page", choices.SOURCES_PAGE)
        page = query.get("page", 1)
        return json_response({"document": found[(page - 1) * size:page * size], "web": []})


def _no_body(order: TurnOrder) -> dict[str, Any]:
    raise AssertionError("a turn is answered by its draft's finish, never rendered")  # pragma: no cover
