"""The rate-limit stage: admits a model call within its user's limits, or answers DRF's 429.

Which limits apply to a call, the first found winning, kind by kind (requests, tokens):

    1. set at run time for the caller's test space (control API ``PUT /_emulator/limits`` with
       ``X-Emulator-Api-Key``, the plugin's ``paradigm_emulator.limit(rpm=2)``)
    2. set at run time for every space (the same without the key)
    3. a fixture file's top-level ``rate_limits: {rpm, tpm}`` (every space)
    4. the user's own, in ``--users``
    5. the model's, in the model catalog (``rate_limits: {rpm, tpm}``)
    6. ``--rpm`` / ``--tpm``

The window is per user, and per model when the model's own limits apply. A call's tokens are
counted at admission as its prompt plus ``max_tokens`` (``DEFAULT_COMPLETION_TOKENS`` when not
given), and corrected to what the answer used once it is done (streams too). Every response of
a limited operation carries OpenAI's six ``x-ratelimit-*`` headers once any limit applies to it;
a kind of limit that does not (only ``--rpm`` set: the tokens) reads as ``UNLIMITED``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.responses import Response

from ..call import Call, json_response
from ..catalog import Catalog
from ..config import Settings
from ..identity.users import RateLimits
from ..state import Backend
from ..tokenizer import count_prompt_within, count_within
from .files import FileLimits
from .windows import Decision, Windows, windows_for

if TYPE_CHECKING:
    from ..operations import OperationNames

STEP_NAME = "limits"
LIMITED = ("chat", "completions", "embeddings", "turn")  # the operations limits apply to
DEFAULT_COMPLETION_TOKENS = 96  # what a generated answer runs to when max_tokens is not given
OVERRIDES = "limits"  # backend records: a space (or "*": every space) -> {"rpm", "tpm"}
EVERY_SPACE = "*"


def check_limit(value: int | None, flag: str) -> None:
    """``--rpm 0`` and the like: a limit is 1 or more (absent: no limit)."""
    if value is not None and value < 1:
        from ..errors import StartupError

        raise StartupError(f"{flag} must be a whole number of 1 or more (leave it out for no limit), "
                           f"got {value}")


class RateLimiter:
    """A pipeline stage (``pipeline.insert(Step(STEP_NAME, limiter), after=RATE_LIMITS_AFTER)``) and
    its after-answer hook (``pipeline.finished``), which corrects the tokens."""

    def __init__(self, settings: Settings, catalog: Catalog, state: Backend, operations: OperationNames,
                 on_reject: Callable[[Call, str], None] | None = None):
        check_limit(settings.rpm, "--rpm")
        check_limit(settings.tpm, "--tpm")
        if not settings.rate_window_s > 0:
            from ..errors import StartupError

            raise StartupError(f"--rate-window-s must be more than 0, got {settings.rate_window_s}")
        self.flags = RateLimits(settings.rpm, settings.tpm)
        self.files = FileLimits(settings.fixtures_dir, int(settings.max_fixture_mb * 1024 * 1024))
        self.window_s = float(settings.rate_window_s)
        self.catalog, self.state = catalog, state
        self.windows: Windows = windows_for(state)
        self.limited = frozenset(i for name in LIMITED for i in operations.resolve(name) or ())
        self.on_reject = on_reject
        self._models: dict[str, RateLimits] = {}  # a model's own limits, by the name a body gives

    # -- the stage -----------------------------------------------------------------------------------

    async def __call__(self, call: Call) -> Response | None:
        user = call.user
        if user is None or call.operation.operation_id not in self.limited:
            return None
        body = call.body if isinstance(call.body, dict) else {}
        name = body.get("model")
        model = self._model_limits(name)
        # Read on every model call, written seldom (the control API, the plugin): watched records.
        here, every = await self.state.get_watched_many(OVERRIDES, (user.space, EVERY_SPACE))
        layers = (_stored(here), _stored(every), self.files.current(), user.limits, model, self.flags)
        rpm = tpm = None
        per_model = False
        for layer in layers:
            if rpm is None and layer.rpm is not None:
                rpm = layer.rpm
                per_model = per_model or layer is model
            if tpm is None and layer.tpm is not None:
                tpm = layer.tpm
                per_model = per_model or layer is model
        if rpm is None and tpm is None:  # no limit anywhere (the default): nothing to count
            return None
        cost = await admission_tokens(body, tpm, call) if tpm is not None else 0
        bucket = f"{user.space}:{user.id}:{name if per_model else '*'}"
        decision = await self.windows.admit(bucket, self.window_s, rpm, tpm, cost)
        headers = limit_headers(decision, rpm, tpm)
        if not decision.admitted:
            if self.on_reject is not None:
                by_requests = decision.wait_requests_s >= decision.wait_tokens_s
                self.on_reject(call, "requests" if by_requests else "tokens")
            return throttled(max(decision.wait_requests_s, decision.wait_tokens_s), headers)
        if call.extra_headers:
            call.extra_headers += headers
        else:
            call.extra_headers = headers
        if tpm is not None:
            call.admitted = (bucket, decision.entry, cost)
        return None

    async def finished(self, call: Call, response: Response, outcome: str, seconds: float) -> None:
        """After the answer: the entry's tokens become what the answer really used."""
        admitted, tokens = call.admitted, call.tokens
        if admitted is not None and tokens is not None and tokens != admitted[2]:
            call.admitted = None
            await self.windows.correct(admitted[0], admitted[1], tokens)

    # -- settings ---------------------------------------------------------------------------------------

    async def set(self, space: str | None, limits: RateLimits) -> None:
        key = space or EVERY_SPACE
        # Through ``update``, which tells every worker's watched copy (``put`` and ``delete`` do not).
        value = {"rpm": limits.rpm, "tpm": limits.tpm} if limits else None
        await self.state.update(OVERRIDES, key, lambda _: value)

    async def get(self, space: str | None) -> dict[str, Any]:
        stored = await self.state.get(OVERRIDES, space or EVERY_SPACE)
        limits = _stored(stored)
        return {"rpm": limits.rpm, "tpm": limits.tpm, "window_s": self.window_s,
                "flags": {"rpm": self.flags.rpm, "tpm": self.flags.tpm}}

    async def reset(self, space: str | None) -> None:
        """A space's run-time limits and its users' windows go (None: every space's windows)."""
        if space is not None:
            await self.state.update(OVERRIDES, space, lambda _: None)
        await self.windows.clear("" if space is None else space + ":")

    def _model_limits(self, name: Any) -> RateLimits:
        if not isinstance(name, str):
            return NO_LIMITS
        known = self._models.get(name)
        if known is None:
            try:
                known = self.catalog.get(name).rate_limits
            except Exception:  # an unknown model: its handler answers that
                return NO_LIMITS
            if len(self._models) < MAX_MODELS:
                self._models[name] = known
        return known


NO_LIMITS = RateLimits()
MAX_MODELS = 1024  # model names whose limits are kept (the catalog, loaded once, does not change)


def _stored(raw: Any) -> RateLimits:
    if not isinstance(raw, dict):
        return NO_LIMITS
    return RateLimits(rpm=raw.get("rpm"), tpm=raw.get("tpm"))


async def admission_tokens(body: dict[str, Any], limit: int, call: Call | None = None) -> int:
    """Prompt tokens plus the most the answer may use, counted from the body before any handler runs.

    Counted up to ``limit`` (the tokens a window holds): past it the call is refused whatever the
    exact figure, so a huge prompt is not counted whole, and a long one is counted off the loop. A chat
    prompt's exact count, and each embeddings input's, is left on ``call`` for its handler, which
    would count it again."""
    prompt = 0
    if isinstance(body.get("messages"), list):
        prompt = await count_prompt_within(body["messages"], limit)  # as the chat handler counts it
        if call is not None and prompt <= limit:  # within the limit the count is exact
            call.prompt_tokens = prompt
    elif "prompt" in body:
        prompt = await _count_any(body["prompt"], limit)
    elif "input" in body:  # embeddings: the input is all
        value = body["input"]
        texts = [value] if isinstance(value, str) else value if (
            isinstance(value, list) and value and all(isinstance(v, str) for v in value)) else None
        if texts is None:
            return await _count_any(value, limit)
        counts = await count_within(texts, limit)
        if call is not None and len(counts) == len(texts) and max(counts) <= limit:  # exact: kept
            call.input_tokens = counts
        return sum(counts)
    elif isinstance(body.get("query"), str):
        prompt = (await count_within([body["query"]], limit))[0]
    most = body.get("max_tokens", body.get("max_completion_tokens"))
    completion = most if isinstance(most, int) and not isinstance(most, bool) and most > 0 \
        else DEFAULT_COMPLETION_TOKENS
    return prompt + completion


async def _count_any(value: Any, limit: int) -> int:
    """The tokens of a prompt or input: a text, token ids, or lists of either."""
    texts: list[str] = []
    ids = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            texts.append(item)
        elif isinstance(item, list):
            for part in item:
                if isinstance(part, int):
                    ids += 1
                else:
                    stack.append(part)
    return ids + sum(await count_within(texts, limit)) if texts else ids


Headers = list[tuple[bytes, bytes]]
# A kind of limit that does not apply (only --rpm set, say) is reported as one no client reaches,
# the largest a 32-bit integer holds, and always whole: OpenAI's clients read all six headers.
UNLIMITED = 2**31 - 1
_UNLIMITED = b"%d" % UNLIMITED
_NO_RESET = b"0ms"
_NO_REQUEST_LIMIT: Headers = [(b"x-ratelimit-limit-requests", _UNLIMITED),
                              (b"x-ratelimit-remaining-requests", _UNLIMITED),
                              (b"x-ratelimit-reset-requests", _NO_RESET)]
_NO_TOKEN_LIMIT: Headers = [(b"x-ratelimit-limit-tokens", _UNLIMITED),
                            (b"x-ratelimit-remaining-tokens", _UNLIMITED),
                            (b"x-ratelimit-reset-tokens", _NO_RESET)]


def limit_headers(decision: Decision, rpm: int | None, tpm: int | None) -> Headers:
    """OpenAI's six headers, as raw header pairs; a kind without a limit reads as ``UNLIMITED``."""
    # Admitted, both kinds reset when the oldest entry leaves the window: one figure, written once.
    if decision.admitted:
        reset_requests = reset_tokens = duration(decision.reset_s)
    else:
        reset_requests = duration(decision.wait_requests_s or decision.reset_s)
        reset_tokens = duration(decision.wait_tokens_s or decision.reset_s)
    requests = _NO_REQUEST_LIMIT if rpm is None else [
        (b"x-ratelimit-limit-requests", b"%d" % rpm),
        (b"x-ratelimit-remaining-requests", b"%d" % max(rpm - decision.requests, 0)),
        (b"x-ratelimit-reset-requests", reset_requests)]
    tokens = _NO_TOKEN_LIMIT if tpm is None else [
        (b"x-ratelimit-limit-tokens", b"%d" % tpm),
        (b"x-ratelimit-remaining-tokens", b"%d" % max(tpm - decision.tokens, 0)),
        (b"x-ratelimit-reset-tokens", reset_tokens)]
    return requests + tokens


def duration(seconds: float) -> bytes:
    """OpenAI's reset format: ``20ms``, ``1s``, ``6m0s`` (as header bytes: ``%`` on bytes formats
    them without a string made and encoded)."""
    if seconds < 1:
        return b"%dms" % math.ceil(max(seconds, 0.0) * 1000)
    if seconds < 60:
        return b"%gs" % round(seconds, 3)
    minutes, rest = divmod(seconds, 60)
    return b"%dm%gs" % (minutes, round(rest, 3))


def throttled(wait_s: float, headers: Headers) -> Response:
    """DRF's throttle answer: its message, ``Retry-After`` in whole seconds, and ``retry-after-ms``."""
    seconds = max(1, math.ceil(wait_s))
    unit = "second" if seconds == 1 else "seconds"
    body = {"detail": f"Request was throttled. Expected available in {seconds} {unit}."}
    named = {name.decode(): value.decode() for name, value in headers}
    return json_response(body, 429, {**named, "Retry-After": str(seconds),
                                     "retry-after-ms": str(max(1, math.ceil(wait_s * 1000)))})
