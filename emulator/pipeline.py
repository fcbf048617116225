"""The request path, stage by stage, in the order a request meets them.

Every API request (``routing`` makes one ``Call`` per request) runs through ``Pipeline.steps``::

    validate   authenticate (before the body is read, as DRF does), parse and validate the body
               and the query against the operation's schemas
    controls   X-Emulator-* headers: a forced status answers here; delays and faults wait on the call
    ......     rate limits (to come) go here: ``pipeline.insert(step, after=RATE_LIMITS_AFTER)``
    match      the fixture that answers this call, if any (``call.script``); --strict refuses here
    deliver    the one place an answer's source is chosen (the memo of plain answers, a fixture,
               the generator; an upstream later), then a JSON body or an SSE stream

A step is ``async (call) -> Response | None``: a response ends the path there (an error, a
forced status), None hands the call on. Steps are data: a new one is inserted into the list,
and no handler changes. ``respond`` then sends the response and writes the journal entry as its
body ends (or when the client went away), with the real duration and outcome.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from .answer import Answer
from .auth import authenticate
from .bodies import parse_body
from .call import COMPLETE, DROPPED, TRUNCATED, Call, Draft, error_response, json_response
from .errors import EmulatorError, ParseError
from .streaming import sse_response

log = logging.getLogger("emulator")
Stage = Callable[[Call], Awaitable["Response | None"]]
# Called once a request is done (its body ended, or its client went away): metrics, token accounting.
Finished = Callable[[Call, Response, str, float], Awaitable[None]]
RATE_LIMITS_AFTER = "controls"  # where rate limits belong: after the control headers, before fixtures


@dataclass(frozen=True)
class Step:
    name: str
    run: Stage


# -- the stages ----------------------------------------------------------------------------------

async def validate(call: Call) -> None:
    endpoint, operation, request = call.endpoint, call.operation, call.request
    assert endpoint is not None
    if operation.secured:
        authenticate(request, call.emulator.settings.api_keys)
    if operation.accepts_body:
        parsed = await parse_body(request, operation, endpoint.body_limit)
        call.content_type, call.body, call.uploads, call.raw_body = (
            parsed.content_type, parsed.data, parsed.uploads, parsed.raw)
        endpoint.body_validator.check(call.content_type, call.body)
    call.query = endpoint.query_validator.check(request)
    return None


async def controls(call: Call) -> Response | None:
    return await call.emulator.controls.before(call)


async def match(call: Call) -> None:
    assert call.endpoint is not None
    if not call.endpoint.matched_by_handler:  # v3 turns match in their handler, once it knows the turn
        call.script = await call.emulator.scripts.match(call)
    return None


async def deliver(call: Call) -> Response:
    """The answer, from one source: the memo (a plain answer already given), the fixture that matched,
    or the handler with the generator; then what a fixture leaves for every answer (delay, headers)."""
    emulator, endpoint, script = call.emulator, call.endpoint, call.script
    assert endpoint is not None
    memo_key = emulator.memo.key(call)
    if memo_key is not None and (kept := emulator.memo.get(memo_key)) is not None:
        return kept
    response: Response | None = None
    if script is not None and not endpoint.answering:
        # A fixture naming an operation that is not a model call: an error instead, or the handler's
        # answer with the fixture's delay and headers.
        if script.is_error:
            response = script.error_response(answering=False)
        else:
            script.leave_effects(call)
    if response is None:
        made = await endpoint.handler(call)
        response = made if isinstance(made, Response) else await answer(call, made)
    effects = call.effects
    if effects is not None:
        if effects.delay_ms > 0:
            await asyncio.sleep(effects.delay_ms / 1000)
        for name, value in (effects.headers or {}).items():
            response.headers[name] = value
    return emulator.memo.put(memo_key, response)


async def answer(call: Call, draft: Draft[Any]) -> Response:
    """The source of a model call's answer: the fixture that matched, else the generator. (A recorded
    upstream, when it comes, is one more source here.) Then the control headers' timing and faults."""
    outcome = call.script.respond(draft) if call.script is not None else draft.generate()
    call.tokens = outcome.usage_dict()["total_tokens"] if isinstance(outcome, Answer) else draft.prompt_tokens
    if isinstance(outcome, Response):
        return outcome
    if not isinstance(outcome, Answer):  # embeddings: vectors
        return json_response(draft.body_of(outcome))
    shaped = call.emulator.controls.apply(call, outcome)
    if isinstance(shaped, Response):
        return shaped
    return await json_or_sse(call, draft, shaped)


async def json_or_sse(call: Call, draft: Draft[Any], answer: Answer) -> Response:
    """A JSON body, or an SSE stream paced by the answer's timing."""
    timing = answer.timing
    if timing.delay_ms > 0:
        await asyncio.sleep(timing.delay_ms / 1000)
    if draft.events_of is not None:
        return sse_response(answer, draft.events_of(answer), on_cut=lambda: _cut(call))
    if timing.ttft_ms > 0 or timing.itl_ms > 0:
        # Not streamed, the whole answer arrives when its last token would have.
        tokens = max((len(c.pieces) for c in answer.choices), default=0)
        await asyncio.sleep((timing.ttft_ms + timing.itl_ms * max(tokens - 1, 0)) / 1000)
    return json_response(draft.body_of(answer), headers=answer.headers or None)


def _cut(call: Call) -> None:
    call.cut = TRUNCATED


DEFAULT_STEPS = (
    Step("validate", validate),
    Step("controls", controls),
    # rate limits: insert(Step("limits", ...), after=RATE_LIMITS_AFTER)
    Step("match", match),
    Step("deliver", deliver),
)


class Pipeline:
    """``emulator.pipeline``: the steps every API request runs through, in order."""

    def __init__(self, steps: Iterable[Step] = DEFAULT_STEPS):
        self.steps: tuple[Step, ...] = tuple(steps)
        self.finished: list[Finished] = []

    def insert(self, step: Step, *, before: str | None = None, after: str | None = None) -> None:
        """Add a step before or after a named one. The list is replaced as a whole, so a request in
        flight keeps the steps it started with."""
        names = [s.name for s in self.steps]
        anchor = before if before is not None else after
        if anchor not in names or (before is None) == (after is None):
            raise ValueError(f"insert a step before= or after= one of {', '.join(names)}")
        at = names.index(anchor) + (0 if before is not None else 1)
        self.steps = (*self.steps[:at], step, *self.steps[at:])

    def remove(self, name: str) -> None:
        self.steps = tuple(s for s in self.steps if s.name != name)

    async def run(self, call: Call) -> Response:
        try:
            for step in self.steps:
                response = await step.run(call)
                if response is not None:
                    return response
        except EmulatorError as exc:
            return error_response(exc)
        except RecursionError:
            return error_response(ParseError("JSON parse error - maximum nesting depth exceeded"))
        raise RuntimeError(f"no step answered {call.operation.operation_id} (the last must: deliver)")

    async def respond(self, call: Call, response: Response, scope: Scope, receive: Receive,
                      send: Send) -> None:
        """Send the response; journal the request when its body ends, or its client went away.

        The entry is written as the last body message goes out, before it is handed to the server:
        whoever has read the whole response (a test, over HTTP or in process, on any backend) finds
        the entry. A client that goes away stops the stream before that message (Starlette cancels
        it on ``http.disconnect``): the entry is then written here, ``dropped``, at that moment."""
        recorded = False
        if call.extra_headers:  # new names (x-ratelimit-*): appended, no scan of the headers set so far
            response.raw_headers.extend((name.encode("latin-1"), value.encode("latin-1"))
                                        for name, value in call.extra_headers.items())

        async def record(outcome: str) -> None:
            nonlocal recorded
            recorded = True
            seconds = time.perf_counter() - call.started
            try:
                await call.emulator.journal.record(call, status=response.status_code, outcome=outcome,
                                                   seconds=seconds)
                for hook in self.finished:
                    await hook(call, response, outcome, seconds)
            except Exception:  # a journal that cannot write must not break the answer itself
                log.exception("could not journal %s %s", call.request.method, call.request.url.path)

        async def sending(message: Message) -> None:
            last = message["type"] == "http.response.body" and not message.get("more_body", False)
            if last and not recorded:
                await record(call.cut or COMPLETE)
            await send(message)

        try:
            await response(scope, receive, sending)
        except ClientDisconnect:
            pass  # the client went away: nobody is left to answer
        finally:
            if not recorded:
                await record(DROPPED)
