"""One request as the pipeline and the handlers see it: ``Call``, and what a model handler drafts.

A ``Call`` is made when a request reaches an operation's route and travels through every
stage of ``pipeline`` (auth and validation, control headers, fixture match, delivery, the
journal). What one stage leaves for a later one is a typed field here, never an attribute
stuck on from outside: the parsed control headers, the fixture that matched, a script's
delay and headers, and how a stream ended.

A model operation's handler (chat, completions, embeddings) does not answer itself: it
returns a ``Draft`` (what the generator would answer, and how to render an answer), and the
delivery step picks the answer's source. Every other handler returns its ``Response``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from starlette.datastructures import Headers, UploadFile
from starlette.requests import Request
from starlette.responses import Response

from .errors import EmulatorError, dumps
from .spec import Operation

if TYPE_CHECKING:  # these modules sit above this one (they import Call): types only, no import cycle
    from .answer import Answer
    from .app import Emulator
    from .controls import Controls
    from .fixtures.registry import ScriptedAnswer
    from .handlers.sampling import Sampling
    from .identity.users import User
    from .routing import Endpoint

T = TypeVar("T")
Json = Any  # a parsed JSON (or form) body: any of dict, list, str, int, float, bool, None
Handler = Callable[["Call"], Awaitable["Response | Draft[Any]"]]

# How a response body ended, as the journal records it.
COMPLETE, TRUNCATED, DROPPED = "complete", "truncated", "dropped"


@dataclass
class Effects:
    """What a fixture leaves for the delivery step to apply to the response: a wait, headers."""

    delay_ms: float = 0.0
    headers: dict[str, str] | None = None


@dataclass
class Call:
    """One request, parsed and validated, as a handler sees it."""

    request: Request
    operation: Operation
    emulator: Emulator
    endpoint: Endpoint | None = None  # the operation's compiled route (validators, handler)
    body: Json = field(default_factory=dict)
    content_type: str = "application/json"
    uploads: dict[str, UploadFile] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)
    path_params: dict[str, Any] = field(default_factory=dict)
    raw_body: bytes = b""
    started: float = field(default_factory=time.perf_counter)
    # -- left by the stages, in the order they run ---------------------------------------------------
    user: User | None = None  # who the key is (identify stage; None on an unsecured operation)
    extra_headers: dict[str, str] | None = None  # added to whatever answers (the rate limits' headers)
    tokens: int | None = None  # prompt + completion tokens of a model answer, once it is made
    controls: Controls | None = None  # X-Emulator-* headers (controls stage)
    script: ScriptedAnswer | None = None  # the fixture use that answers this call (match stage)
    fixture: str | None = None  # its name, for the journal
    effects: Effects | None = None  # a script's delay and headers (delivery applies them)
    cut: str | None = None  # TRUNCATED when a stream fault ended the body early (set while streaming)
    # A v3 turn's index in its thread, agent id and forced tool (its handler), for the fixture conditions.
    turn_context: dict[str, Any] | None = None

    @property
    def headers(self) -> Headers:
        return self.request.headers


@dataclass
class Draft(Generic[T]):
    """What a model operation would answer, before the delivery step picks the source of the answer.

    ``generate`` is the generator's answer (an ``Answer`` for chat and completions, vectors for
    embeddings); a fixture may use it or replace it. ``body_of`` renders an answer as the JSON
    body; ``events_of``, when the request asked for a stream, as its SSE events."""

    call: Call
    sampling: Sampling | None  # None: embeddings
    prompt_tokens: int
    generate: Callable[[], T]
    body_of: Callable[[T], dict[str, Any]]
    events_of: Callable[[Answer], Iterator[bytes]] | None = None


def json_response(body: Json, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(body), status_code=status, headers=headers, media_type="application/json")


def error_response(exc: EmulatorError) -> Response:
    return json_response(exc.body(), exc.status, dict(exc.headers) or None)
