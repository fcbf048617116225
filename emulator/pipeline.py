"""The request path, stage by stage, in the order a request meets them.

Every API request (``routing`` makes one ``Call`` per request) runs through ``Pipeline.steps``::

    observe    the metrics' note of a request that starts (v3 turns running), when installed
    validate   authenticate (before the body is read, as DRF does; the key stays on the call),
               parse and validate the body and the query against the operation's schemas
    identify   ``call.user``, the key's user and company (emulator/identity), when installed
    controls   X-Emulator-* headers: a forced status answers here; delays and faults wait on the call
    limits     rate limits go here: ``pipeline.insert(step, after=RATE_LIMITS_AFTER)``
    match      the fixture that answers this call, if any (``call.script``); --strict refuses here
    deliver    the answer (``delivery.Deliver``: the memo, the sources consulted before the handler,
               the handler's draft, the draft's sources: a fixture, the generator), then JSON or SSE

A step is ``async (call) -> Response | None``: a response ends the path there (an error, a
forced status), None hands the call on. Steps are objects built once with the services they
use (``app.py`` builds them); a new one is inserted into the list, and no handler changes.
``respond`` then sends the response and writes the journal entry as its body ends (or when
the client went away), with the real duration and outcome, then tells the ``finished``
observers it was given (the metrics, the rate limiter's token correction).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from .auth import authenticate
from .bodies import parse_body
from .call import COMPLETE, DROPPED, Call, EncodedJSON, Script, error_response
from .controls import HeaderControls
from .errors import EmulatorError, ParseError
from .sse import EventStream
from .tap import Tap

log = logging.getLogger("emulator")
Stage = Callable[[Call], Awaitable["Response | None"]]
RATE_LIMITS_AFTER = "controls"  # where rate limits belong: after the control headers, before fixtures


@dataclass(frozen=True)
class Step:
    name: str
    run: Stage
    # The operations (ids) the step serves; None: every one. A call skips the steps not for it.
    operations: frozenset[str] | None = None


class Scripts(Protocol):
    """What the match stage asks of the fixtures (``scripts.registry.Scripts``)."""

    async def match(self, call: Call, recorded_only: bool = False) -> Script | None: ...


class Recorder(Protocol):
    """Where a finished request is written (``journal.Journal``)."""

    def tap(self, encoded: bool = False) -> Tap: ...

    async def record(self, call: Call, *, status: int, outcome: str = ..., seconds: float = ...,
                     response: Tap | None = ...) -> None: ...


class Finished(Protocol):
    """Told once a request is done (its body ended, or its client went away), after its journal
    entry, with the status, how the body ended and the real duration: the metrics, the rate
    limiter's token correction."""

    async def finished(self, call: Call, response: Response, outcome: str, seconds: float) -> None: ...


# -- the stages ----------------------------------------------------------------------------------

class Validate:
    """The bearer key (kept as ``call.api_key``), then the body and the query."""

    def __init__(self, api_keys: tuple[str, ...], *, local_keys: bool = True):
        self.api_keys = api_keys
        self.local_keys = local_keys  # False: an upstream checks the key (and the emulator cannot)

    async def __call__(self, call: Call) -> None:
        route, request = call.route, call.request
        operation = route.operation
        if operation.secured and self.local_keys:
            call.api_key = authenticate(request, self.api_keys)
        if operation.accepts_body:
            parsed = await parse_body(request, operation, route.body_limit)
            call.content_type, call.body, call.uploads, call.raw_body = (
                parsed.content_type, parsed.data, parsed.uploads, parsed.raw)
            route.body_validator.check(call.content_type, call.body)
        call.query = route.query_validator.check(request)
        return None


class ControlStage:
    """The X-Emulator-* headers: a forced status answers here, the rest waits on ``call.controls``."""

    def __init__(self, header_controls: HeaderControls):
        self.header_controls = header_controls

    async def __call__(self, call: Call) -> Response | None:
        return await self.header_controls.before(call)


class Match:
    """The fixture that answers the call. A route matched late (a v3 turn: its conditions read what
    the handler drafts) is matched by the delivery step, through ``late``, once the draft is made."""

    def __init__(self, scripts: Scripts):
        self.scripts = scripts

    async def __call__(self, call: Call) -> None:
        if not call.route.matched_late:
            call.script = await self.scripts.match(call)
        else:  # ... but a recorded turn is matched on its request as it was sent, here
            call.script = await self.scripts.match(call, recorded_only=True)
        return None

    async def late(self, call: Call) -> None:
        if call.script is None:
            call.script = await self.scripts.match(call)


class Pipeline:
    """The steps every API request runs through, in order, and the journal they end in."""

    def __init__(self, steps: Iterable[Step], journal: Recorder, finished: Iterable[Finished] = ()):
        self.steps = tuple(steps)
        self.journal = journal
        # Told once a request is done, after its journal entry: the metrics, the rate limiter's tokens.
        self.finished: tuple[Finished, ...] = tuple(finished)

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

    @property
    def steps(self) -> tuple[Step, ...]:
        return self._steps

    @steps.setter
    def steps(self, steps: Iterable[Step]) -> None:
        self._steps = tuple(steps)
        # The stages of each operation, found at its first call: what a call runs is one lookup.
        self._plans: dict[str, tuple[Stage, ...]] = {}

    def plan(self, operation_id: str) -> tuple[Stage, ...]:
        plan = self._plans.get(operation_id)
        if plan is None:
            plan = self._plans[operation_id] = tuple(
                step.run for step in self._steps
                if step.operations is None or operation_id in step.operations)
        return plan

    async def run(self, call: Call) -> Response:
        try:
            for stage in self.plan(call.route.operation.operation_id):
                response = await stage(call)
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
        journal, finished = self.journal, self.finished
        # The response as it goes out, for the journal entry (a body the emulator encoded is not re-read).
        tap = journal.tap(encoded=isinstance(response, EncodedJSON))
        if call.extra_headers:  # new names (x-ratelimit-*): appended, no scan of the headers set so far
            response.raw_headers.extend(call.extra_headers)

        async def record(outcome: str) -> None:
            nonlocal recorded
            recorded = True
            seconds = time.perf_counter() - call.started
            try:
                await journal.record(call, status=response.status_code, outcome=outcome,
                                     seconds=seconds, response=tap)
            except Exception:  # a journal that cannot write must not break the answer itself
                log.exception("could not journal %s %s", call.request.method, call.request.url.path)
            for observer in finished:
                try:
                    await observer.finished(call, response, outcome, seconds)
                except Exception:  # nor may an observer that fails
                    log.exception("%s failed on %s %s", type(observer).__name__, call.request.method,
                                  call.request.url.path)

        async def sending(message: Message) -> None:
            tap.feed(message)
            last = message["type"] == "http.response.body" and not message.get("more_body", False)
            if last and not recorded:
                await record(call.cut or COMPLETE)
            await send(message)

        try:
            if type(response).__call__ is Response.__call__:  # one body: sent here, no wrapper of send
                start: Message = {"type": "http.response.start", "status": response.status_code,
                                  "headers": response.raw_headers}
                tap.feed(start)
                body = response.body
                if body:
                    tap.chunk(bytes(body))
                await send(start)
                await record(call.cut or COMPLETE)
                await send({"type": "http.response.body", "body": body})
                if response.background is not None:
                    await response.background()
            elif isinstance(response, EventStream):  # hundreds of messages: the stream tells its chunks
                tap.feed({"type": "http.response.start", "headers": response.raw_headers})
                response.listener = tap
                response.before_end = lambda: record(call.cut or COMPLETE)
                await response(scope, receive, send)
            else:
                await response(scope, receive, sending)
        except ClientDisconnect:
            pass  # the client went away: nobody is left to answer
        finally:
            if not recorded:
                await record(DROPPED)
