"""The delivery step, as named sub-steps: where a call's answer comes from, and how it goes out.

``Deliver`` runs, in order::

    memo        a plain generated answer already given for the same bytes
    sources     answer sources consulted before the handler (``Source``): first the fixture of a
                call that is not a model call (its error, or its delay and headers); then any added
                one (an upstream proxy, a replayed recording), in the order given
    handler     the operation's handler: a finished ``Response``, or a model call's ``Draft``
    late match  a route whose fixture conditions read what its handler drafts (a v3 turn)
    draft       the draft's answer sources (``DraftSource``), the first that answers wins:
                ``FixtureSource`` (the fixture that matched), ``GeneratorSource`` (the generator)
    controls    the control headers' timing and faults (``HeaderControls.apply``)
    render      a JSON body, or an SSE stream paced by the answer's timing
    effects     a fixture's delay and headers, on whatever response came out

A new source joins a list (``create_app(sources=...)`` or ``draft_sources``): no handler changes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any, Protocol

from starlette.responses import Response

from .answer import Answer
from .call import TRUNCATED, Call, Draft, json_response
from .controls import HeaderControls
from .memo import AnswerMemo
from .pipeline import Match
from .streaming import sse_response


class Source(Protocol):
    """An answer source consulted before the handler: a response, or None to let the next one try."""

    async def answer(self, call: Call) -> Response | None: ...


class DraftSource(Protocol):
    """An answer source for a model call's draft: the answer (what ``draft.generate`` makes: an
    ``Answer``, vectors, ...), a finished ``Response``, or None to let the next one try."""

    async def answer(self, call: Call, draft: Draft[Any]) -> Any | None: ...


class ScriptedOperation:
    """A fixture naming an operation that is not a model call: its error instead of the handler's
    answer, or the handler's answer with the fixture's delay and headers."""

    async def answer(self, call: Call) -> Response | None:
        script = call.script
        if script is None or call.route.answering:
            return None
        if script.is_error:
            return script.error_response(answering=False)
        script.leave_effects(call)
        return None


class FixtureSource:
    """The fixture that matched the call (``call.script``)."""

    async def answer(self, call: Call, draft: Draft[Any]) -> Any | None:
        script = call.script
        if script is None:
            return None
        if draft.scripted is None:
            return script.respond(draft)
        if script.is_error:
            return script.error_response(answering=True)
        script.leave_effects(call)  # its delay and headers, applied to the finished response
        return draft.scripted(script)


class GeneratorSource:
    """The generator: what the handler drafted (always answers, so it comes last)."""

    async def answer(self, call: Call, draft: Draft[Any]) -> Any:
        if draft.generated is not None:
            return await draft.generated()
        return draft.generate()


DRAFT_SOURCES: tuple[DraftSource, ...] = (FixtureSource(), GeneratorSource())


class Deliver:
    """The last stage: the answer, from the first source that gives one, then rendered."""

    def __init__(self, memo: AnswerMemo, header_controls: HeaderControls, match: Match,
                 sources: Iterable[Source] = (), draft_sources: Iterable[DraftSource] = DRAFT_SOURCES):
        self.memo, self.header_controls, self.match = memo, header_controls, match
        self.sources: tuple[Source, ...] = (ScriptedOperation(), *sources)
        self.draft_sources = tuple(draft_sources)

    async def __call__(self, call: Call) -> Response:
        memo_key = self.memo.key(call)
        if memo_key is not None and (kept := self.memo.get(memo_key)) is not None:
            return kept
        for source in self.sources:
            answered = await source.answer(call)
            if answered is not None:
                return await self.with_effects(call, answered)
        made = await call.route.handler(call)
        response = made if isinstance(made, Response) else await self.answer(call, made)
        return self.memo.put(memo_key, await self.with_effects(call, response))

    async def answer(self, call: Call, draft: Draft[Any]) -> Response:
        """A model call's answer: the first draft source's, then the controls' faults, then rendered."""
        if call.route.matched_late:
            await self.match.late(call)
        outcome: Any = None
        for source in self.draft_sources:
            outcome = await source.answer(call, draft)
            if outcome is not None:
                break
        # What the answer used, for the rate limiter's token correction once the request is done.
        call.tokens = (outcome.usage_dict()["total_tokens"] if isinstance(outcome, Answer)
                       else draft.prompt_tokens)
        if isinstance(outcome, Response):
            return outcome
        if draft.finish is not None:
            return await draft.finish(outcome)
        if not isinstance(outcome, Answer):  # embeddings: vectors
            return json_response(draft.body_of(outcome))
        shaped = self.header_controls.apply(call, outcome)
        if isinstance(shaped, Response):
            return shaped
        return await render(call, draft, shaped)

    @staticmethod
    async def with_effects(call: Call, response: Response) -> Response:
        """What a fixture leaves for every answer: a delay, headers."""
        effects = call.effects
        if effects is not None:
            if effects.delay_ms > 0:
                await asyncio.sleep(effects.delay_ms / 1000)
            for name, value in (effects.headers or {}).items():
                response.headers[name] = value
        return response


async def render(call: Call, draft: Draft[Any], answer: Answer) -> Response:
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
