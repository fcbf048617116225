"""The seam between a request and a scripted answer (see ``fixtures`` for the matching itself).

A handler asks ``emulator.scripts.match(call)`` for a ``Script``; when one matches,
``script.respond(context)`` returns either an ``Answer`` (rendered like a generated
one, streamed or not) or a finished ``Response`` (a scripted HTTP error).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol

from starlette.responses import Response

from .answer import Answer


@dataclass
class AnswerContext:
    call: Any  # routing.Call
    sampling: Any  # handlers.sampling.Sampling, or None for embeddings
    prompt_tokens: int
    generate: Callable[[], Any]  # what the generator would have answered


class Script(Protocol):
    name: str

    def respond(self, context: AnswerContext) -> Answer | Response | Any: ...


class NoScripts:
    """Nothing scripted: every request is answered by the generator."""

    def match(self, call: Any) -> Script | None:
        return None


class NoControls:
    """No per-request control headers."""

    def apply(self, call: Any, answer: Answer) -> Answer | Response:
        return answer
