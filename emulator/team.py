"""One emulator for a whole team: who calls (users), their test spaces, rate limits and metrics,
wired into a running emulator as pipeline stages, an after-answer hook and control routes.

    identify   after ``validate``: ``call.user`` from the bearer key (emulator/identity)
    limits     after the control headers: admits a model call or answers 429 (emulator/limits)
    observe    before everything: counts the v3 turns being served (emulator/metrics.py)

and, once a request is done, the limiter corrects its tokens and the metrics count it.

Control routes added beside the control API (guarded the same way: the admin token when the
emulator has one, or ``X-Emulator-Api-Key`` for one key's space)::

    GET    /_emulator/metrics   the Prometheus text (every worker's figures); admin only
    GET    /_emulator/limits    {"rpm", "tpm", "window_s", "flags"} set at run time (space or all)
    PUT    /_emulator/limits    {"rpm": N|null, "tpm": N|null}: the run-time limits of the space
                                 (with X-Emulator-Api-Key) or of every space
    DELETE /_emulator/limits    back to the users file, the catalog and the flags
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .call import Call
from .errors import ApiError, NotAuthenticated, ParseError, dumps
from .identity.directory import Users
from .identity.stage import AFTER as IDENTIFY_AFTER
from .identity.stage import STEP_NAME as IDENTIFY
from .identity.stage import Identify
from .identity.users import RateLimits
from .limits.stage import STEP_NAME as LIMITS
from .limits.stage import RateLimiter, parse_limits
from .limits.windows import MemoryWindows
from .metrics import Metrics
from .pipeline import RATE_LIMITS_AFTER, Step
from .spaces import Spaces

if TYPE_CHECKING:
    from .app import Emulator

PREFIX = "/_emulator"
MAX_LIMITS_BODY = 4096


class Team:
    """``emulator.team``: the users, spaces, limiter and metrics of one emulator."""

    def __init__(self, emulator: Emulator):
        settings = emulator.settings
        operations = emulator.scripts.operations
        self.users = Users.load(settings.users)
        self.metrics = Metrics(operations.resolve("turn") or frozenset())
        self.limiter = RateLimiter(settings, emulator.catalog, emulator.state, operations,
                                   on_reject=self.metrics.rejected)
        self.spaces = Spaces(emulator.state, self.users, emulator.scripts, settings.admin_token)
        self.spaces.limiter = self.limiter
        if isinstance(self.limiter.windows, MemoryWindows):  # a reset clears Redis's windows with the rest
            emulator.scripts.on_reset.append(_after_first(self.limiter.windows.forget))
        pipeline = emulator.pipeline
        pipeline.insert(Step("observe", self._observe), before="validate")
        pipeline.insert(Step(IDENTIFY, Identify(self.users)), after=IDENTIFY_AFTER)
        pipeline.insert(Step(LIMITS, self.limiter), after=RATE_LIMITS_AFTER)
        pipeline.finished += [self.limiter.finished, self.metrics.finished]

    async def _observe(self, call: Call) -> None:
        self.metrics.started(call)
        return None


def _after_first(callback: Callable[[], None]) -> Callable[[], None]:
    """``on_reset`` is also called when the first request meets the state: that is no reset."""
    seen: list[bool] = []

    def called() -> None:
        if seen:
            callback()
        seen.append(True)

    return called


def team_routes(emulator: Emulator) -> list[Route]:
    team: Team = emulator.team
    token = emulator.settings.admin_token

    Endpoint = Callable[[Request], Awaitable[Response]]

    def guarded(endpoint: Endpoint) -> Endpoint:
        async def guard(request: Request) -> Response:
            try:
                return await endpoint(request)
            except ApiError as exc:
                return Response(dumps(exc.body()), status_code=exc.status, media_type="application/json",
                                headers=dict(exc.headers) or None)

        return guard

    async def metrics(request: Request) -> Response:
        if token:  # every space's figures: the admin's alone
            given = request.headers.get("x-emulator-admin-token")
            if given is None:
                raise NotAuthenticated("The metrics need the X-Emulator-Admin-Token header (the emulator "
                                       "runs with --admin-token).")
            team.spaces.addressed(request)  # a wrong token is refused there
        return team.metrics.scrape(emulator)

    async def get_limits(request: Request) -> Response:
        user = team.spaces.addressed(request)
        shown = await team.limiter.get(user.space if user else None)
        return _json({**shown, "space": user.space if user else None})

    async def put_limits(request: Request) -> Response:
        user = team.spaces.addressed(request)
        raw = await request.body()
        if len(raw) > MAX_LIMITS_BODY:
            raise ParseError(f"A limits body is at most {MAX_LIMITS_BODY} bytes.")
        try:
            limits = parse_limits(json.loads(raw or b"{}"), "the body")
        except ValueError as exc:
            raise ParseError(str(exc)) from None
        await team.limiter.set(user.space if user else None, limits)
        return _json({"rpm": limits.rpm, "tpm": limits.tpm, "space": user.space if user else None})

    async def delete_limits(request: Request) -> Response:
        user = team.spaces.addressed(request)
        await team.limiter.set(user.space if user else None, RateLimits())
        return _json({"deleted": True, "space": user.space if user else None})

    return [
        Route(PREFIX + "/metrics", guarded(metrics), methods=["GET"]),
        Route(PREFIX + "/limits", guarded(get_limits), methods=["GET"]),
        Route(PREFIX + "/limits", guarded(put_limits), methods=["PUT"]),
        Route(PREFIX + "/limits", guarded(delete_limits), methods=["DELETE"]),
    ]


def _json(body: object, status: int = 200) -> Response:
    return Response(json.dumps(body, separators=(",", ":")).encode(), status_code=status,
                    media_type="application/json")


