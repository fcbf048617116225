"""One request as the pipeline and the handlers see it: ``Call``, its ``Route``, and what a model
handler drafts.

A ``Call`` is made when a request reaches an operation's route and travels through every
stage of ``pipeline`` (auth and validation, control headers, fixture match, delivery, the
journal). It is the request and what the stages learn about it, never the application: what a
stage leaves for a later one is a typed field here (the API key, the parsed control headers,
the fixture that matched, a script's delay and headers, how a stream ended).

A model call's handler (chat, completions, embeddings, a v3 turn) does not answer itself: it
returns a ``Draft`` (what the generator would answer, and how an answer is rendered), and the
delivery step's sources pick the answer. Every other handler returns its ``Response``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from starlette.datastructures import Headers, UploadFile
from starlette.requests import Request
from starlette.responses import Response

from .answer import Answer
from .bodies import BodyLimit
from .errors import EmulatorError, dumps
from .queries import QueryValidator
from .spec import Operation
from .validation import BodyValidator

if TYPE_CHECKING:  # the identity model is read by the stages after identify: a type only here
    from .identity.users import User

T = TypeVar("T")
Json = Any  # a parsed JSON (or form) body: any of dict, list, str, int, float, bool, None
Handler = Callable[["Call"], Awaitable["Response | Draft[Any]"]]
Vectors = list[list[float]]

# How a response body ended, as the journal records it.
COMPLETE, TRUNCATED, DROPPED = "complete", "truncated", "dropped"


@dataclass(frozen=True)
class Route:
    """What the stages need to know of the operation a request reached, compiled once at start-up."""

    operation: Operation
    handler: Handler
    body_validator: BodyValidator
    query_validator: QueryValidator
    body_limit: BodyLimit
    answering: bool  # a model call (operations.OperationNames.answering): memo, sources, vLLM errors
    matched_late: bool  # the handler drafts what its fixture conditions read (a v3 turn): matched then


@dataclass(frozen=True)
class Controls:
    """The X-Emulator-* headers of one request, parsed (``controls.read_controls``)."""

    status: int | None = None
    body: Any = None
    retry_after: float | None = None
    delay_ms: float = 0.0
    ttft_ms: float | None = None
    itl_ms: float | None = None
    truncate_after: int | None = None
    error_after: int | None = None
    drop_after: int | None = None


@dataclass
class Effects:
    """What a fixture leaves for the delivery step to apply to the response: a wait, headers."""

    delay_ms: float = 0.0
    headers: dict[str, str] | None = None


class Script(Protocol):
    """One use of a fixture, as the delivery step sees it (``scripts.answers.ScriptedAnswer``)."""

    @property
    def name(self) -> str: ...

    @property
    def response(self) -> Mapping[str, Any]:
        """The fixture's response, as written."""

    @property
    def is_error(self) -> bool: ...

    def error_response(self, answering: bool) -> Response: ...

    def leave_effects(self, call: Call) -> None: ...

    def respond(self, draft: Draft[Any]) -> Answer | Response | Vectors: ...

    def render(self, template: str) -> str: ...


@dataclass
class Call:
    """One request, parsed and validated, as a handler sees it."""

    request: Request
    route: Route
    body: Json = field(default_factory=dict)
    content_type: str = "application/json"
    uploads: dict[str, UploadFile] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)
    path_params: dict[str, Any] = field(default_factory=dict)
    raw_body: bytes = b""
    started: float = field(default_factory=time.perf_counter)
    # -- left by the stages, in the order they run ---------------------------------------------------
    api_key: str | None = None  # the bearer key that authenticated the call (validate stage)
    user: User | None = None  # who the key is (identify stage; None on an unsecured operation)
    extra_headers: list[tuple[bytes, bytes]] | None = None  # raw, added to whatever answers (rate limits)
    admitted: tuple[str, object, int] | None = None  # the rate limits' window, entry and tokens counted
    tokens: int | None = None  # prompt + completion tokens of a model answer, once it is made
    prompt_tokens: int | None = None  # a chat prompt's tokens, when a stage counted them exactly (limits)
    input_tokens: list[int] | None = None  # each embeddings input's tokens, counted so (limits)
    controls: Controls | None = None  # X-Emulator-* headers (controls stage)
    script: Script | None = None  # the fixture use that answers this call (match stage)
    fixture: str | None = None  # its name, for the journal
    effects: Effects | None = None  # a script's delay and headers (delivery applies them)
    cut: str | None = None  # TRUNCATED when a stream fault ended the body early (set while streaming)
    source: str | None = None  # "upstream" or "recording" when the answer came from there (the journal)
    # A v3 turn's index in its thread, agent id and forced tool (its handler), for the fixture conditions.
    turn_context: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)  # what the journal entry says of it (a spent regex budget)

    @property
    def operation(self) -> Operation:
        return self.route.operation

    @property
    def headers(self) -> Headers:
        return self.request.headers


@dataclass
class Draft(Generic[T]):
    """What a model call would answer, before the delivery step's sources pick the answer.

    ``generate`` is the generator's answer (an ``Answer`` for chat and completions, vectors for
    embeddings, what to plan for a turn); a fixture may use it or replace it. ``body_of`` renders
    an answer as the JSON body; ``events_of``, when the request asked for a stream, as its SSE
    events. ``n`` and ``stream`` are what a fixture's answer is shaped by (None: not a completion).

    A draft that answers otherwise sets ``scripted`` (a fixture's answer made from the script) and
    ``finish`` (the response made from the answer, instead of the controls and the rendering):
    a v3 turn is planned, stored and then streamed or waited for."""

    call: Call
    n: int | None  # None: embeddings, turns
    stream: bool
    prompt_tokens: int
    generate: Callable[[], T]
    body_of: Callable[[T], dict[str, Any]]
    events_of: Callable[[Answer], Iterator[bytes]] | None = None
    scripted: Callable[[Script], T] | None = None
    finish: Callable[[T], Awaitable[Response]] | None = None
    # The generator's answer as a finished response, when the handler makes it better than the
    # rendering step would (many embeddings: made in a thread). Used only when no fixture answers.
    generated: Callable[[], Awaitable[Response]] | None = None


class EncodedJSON(Response):
    """A response whose body this emulator encoded as JSON: valid by construction, so the journal
    keeps it as it is, without reading it back (a fixture's or an upstream's body is checked)."""


def json_response(body: Json, status: int = 200, headers: Mapping[str, str] | None = None, *,
                  default: Callable[[Any], Any] | None = None) -> Response:
    """The one way a JSON response is made: compact bytes, as DRF and vLLM write them (``default``:
    how a value JSON has no type for is written)."""
    return EncodedJSON(dumps(body, default), status_code=status, headers=dict(headers) if headers else None,
                       media_type="application/json")


def error_response(exc: EmulatorError) -> Response:
    return json_response(exc.body(), exc.status, exc.headers)
