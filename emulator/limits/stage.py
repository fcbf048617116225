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
a limited operation carries the ``x-ratelimit-*`` headers of the limits that apply.
"""

from __future__ import annotations

import itertools
import math
import os
import secrets
import weakref
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
MAX_OPEN = 100_000  # admitted calls awaiting their token correction


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
        self._entries = itertools.count(1)
        self._me = f"{os.getpid()}-{secrets.token_hex(4)}"
        # What a call admitted here left for the correction: call id -> (the call, bucket, entry, tokens
        # counted). Bounded: a call that never finished (a crashed handler) is forgotten in the end.
        self._open: dict[int, tuple[weakref.ref[Call], str, str, int]] = {}

    # -- the stage -----------------------------------------------------------------------------------

    async def __call__(self, call: Call) -> Response | None:
        if call.operation.operation_id not in self.limited or call.user is None:
            return None
        user = call.user
        body = call.body if isinstance(call.body, dict) else {}
        model = self._model_limits(body.get("model"))
        # Read on every model call, written seldom (the control API, the plugin): watched records.
        space = user.space
        runtime = await self.state.get_watched_many(OVERRIDES, (space, EVERY_SPACE))
        layers = [_stored(r) for r in runtime if r is not None]
        layers += (self.files.current(), user.limits, model, self.flags)
        if not any(layers):  # no limit anywhere (the default): nothing to count
            return None
        rpm, tpm = None, None
        scope = "*"
        for layer in layers:
            if rpm is None and layer.rpm is not None:
                rpm = layer.rpm
                scope = str(body.get("model")) if layer is model else scope
            if tpm is None and layer.tpm is not None:
                tpm = layer.tpm
                scope = str(body.get("model")) if layer is model else scope
        if rpm is None and tpm is None:
            return None
        cost = await admission_tokens(body, tpm, call) if tpm is not None else 0
        bucket = f"{space}:{user.id}:{scope}"
        entry = f"{self._me}-{next(self._entries)}"
        decision = await self.windows.admit(bucket, self.window_s, rpm, tpm, cost, entry)
        headers = limit_headers(decision, rpm, tpm, cost, self.window_s)
        if not decision.admitted:
            wait = max(decision.wait_requests_s, decision.wait_tokens_s)
            if self.on_reject is not None:
                by_requests = decision.wait_requests_s >= decision.wait_tokens_s
                self.on_reject(call, "requests" if by_requests else "tokens")
            return throttled(wait, headers)
        call.extra_headers = {**(call.extra_headers or {}), **headers}
        if tpm is not None:
            if len(self._open) >= MAX_OPEN:
                self._open.pop(next(iter(self._open)))
            self._open[id(call)] = (weakref.ref(call), bucket, entry, cost)
        return None

    async def finished(self, call: Call, response: Response, outcome: str, seconds: float) -> None:
        """After the answer: the entry's tokens become what the answer really used."""
        opened = self._open.pop(id(call), None)
        if opened is None or opened[0]() is not call or call.tokens is None:
            return
        _, bucket, entry, counted = opened
        if call.tokens != counted:
            await self.windows.correct(bucket, entry, call.tokens)

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
            return RateLimits()
        try:
            model = self.catalog.get(name)
        except Exception:  # an unknown model: its handler answers that
            return RateLimits()
        return model.rate_limits


def _stored(raw: Any) -> RateLimits:
    if not isinstance(raw, dict):
        return RateLimits()
    return RateLimits(rpm=raw.get("rpm"), tpm=raw.get("tpm"))


async def admission_tokens(body: dict[str, Any], limit: int, call: Call | None = None) -> int:
    """Prompt tokens plus the most the answer may use, counted from the body before any handler runs.

    Counted up to ``limit`` (the tokens a window holds): past it the call is refused whatever the
    exact figure, so a huge prompt is not counted whole, and a long one is counted off the loop. A chat
    prompt's exact count is left on ``call`` for its handler, which would count it again."""
    prompt = 0
    if isinstance(body.get("messages"), list):
        prompt = await count_prompt_within(body["messages"], limit)  # as the chat handler counts it
        if call is not None and prompt <= limit:  # within the limit the count is exact
            call.prompt_tokens = prompt
    elif "prompt" in body:
        prompt = await _count_any(body["prompt"], limit)
    elif "input" in body:
        return await _count_any(body["input"], limit)  # embeddings: the input is all
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


def limit_headers(decision: Decision, rpm: int | None, tpm: int | None, cost: int,
                  window_s: float) -> dict[str, str]:
    """OpenAI's six headers, for the kinds of limit that apply."""
    headers: dict[str, str] = {}
    if rpm is not None:
        headers["x-ratelimit-limit-requests"] = str(rpm)
        headers["x-ratelimit-remaining-requests"] = str(max(rpm - decision.requests, 0))
        headers["x-ratelimit-reset-requests"] = duration(decision.wait_requests_s or decision.reset_s)
    if tpm is not None:
        headers["x-ratelimit-limit-tokens"] = str(tpm)
        headers["x-ratelimit-remaining-tokens"] = str(max(tpm - decision.tokens, 0))
        headers["x-ratelimit-reset-tokens"] = duration(decision.wait_tokens_s or decision.reset_s)
    return headers


def duration(seconds: float) -> str:
    """OpenAI's reset format: ``20ms``, ``1s``, ``6m0s``."""
    seconds = max(seconds, 0.0)
    if seconds < 1:
        return f"{math.ceil(seconds * 1000)}ms"
    minutes, rest = divmod(seconds, 60)
    rest_text = f"{round(rest, 3):g}s"
    return f"{int(minutes)}m{rest_text}" if minutes else rest_text


def throttled(wait_s: float, headers: dict[str, str]) -> Response:
    """DRF's throttle answer: its message, ``Retry-After`` in whole seconds, and ``retry-after-ms``."""
    seconds = max(1, math.ceil(wait_s))
    unit = "second" if seconds == 1 else "seconds"
    body = {"detail": f"Request was throttled. Expected available in {seconds} {unit}."}
    return json_response(body, 429, {**headers, "Retry-After": str(seconds),
                                     "retry-after-ms": str(max(1, math.ceil(wait_s * 1000)))})
