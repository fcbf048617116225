"""One emulator for a whole team: the metrics' first stage and the control routes of the rate limits
and the metrics. (The users, spaces, limiter and metrics themselves are built by ``app.py``.)

    observe    before everything: counts the v3 turns being served (emulator/metrics.py)

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

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .call import Call, error_response, json_response
from .config import Settings
from .errors import ApiError, NotAuthenticated, ParseError
from .identity.users import RateLimits
from .limits.files import parse_limits
from .limits.stage import RateLimiter
from .metrics import Metrics
from .spaces import Spaces

PREFIX = "/_emulator"
MAX_LIMITS_BODY = 4096
Endpoint = Callable[[Request], Awaitable[Response]]


class Observe:
    """The first stage: the metrics see a request start (the v3 turns running)."""

    def __init__(self, metrics: Metrics):
        self.metrics = metrics

    async def __call__(self, call: Call) -> None:
        self.metrics.started(call)
        return None


def after_first(callback: Callable[[], None]) -> Callable[[], None]:
    """``on_reset`` is also called when the first request meets the state: that is no reset."""
    seen: list[bool] = []

    def called() -> None:
        if seen:
            callback()
        seen.append(True)

    return called


def team_routes(spaces: Spaces, limiter: RateLimiter, metrics: Metrics, settings: Settings) -> list[Route]:
    token = settings.admin_token

    def guarded(endpoint: Endpoint) -> Endpoint:
        async def guard(request: Request) -> Response:
            try:
                return await endpoint(request)
            except ApiError as exc:
                return error_response(exc)

        return guard

    async def scrape(request: Request) -> Response:
        if token:  # every space's figures: the admin's alone
            given = request.headers.get("x-emulator-admin-token")
            if given is None:
                raise NotAuthenticated("The metrics need the X-Emulator-Admin-Token header (the emulator "
                                       "runs with --admin-token).")
            spaces.addressed(request)  # a wrong token is refused there
        return metrics.scrape()

    async def get_limits(request: Request) -> Response:
        user = spaces.addressed(request)
        shown = await limiter.get(user.space if user else None)
        return json_response({**shown, "space": user.space if user else None})

    async def put_limits(request: Request) -> Response:
        user = spaces.addressed(request)
        raw = await request.body()
        if len(raw) > MAX_LIMITS_BODY:
            raise ParseError(f"A limits body is at most {MAX_LIMITS_BODY} bytes.")
        try:
            limits = parse_limits(json.loads(raw or b"{}"), "the body")
        except ValueError as exc:
            raise ParseError(str(exc)) from None
        await limiter.set(user.space if user else None, limits)
        return json_response({"rpm": limits.rpm, "tpm": limits.tpm, "space": user.space if user else None})

    async def delete_limits(request: Request) -> Response:
        user = spaces.addressed(request)
        await limiter.set(user.space if user else None, RateLimits())
        return json_response({"deleted": True, "space": user.space if user else None})

    return [
        Route(PREFIX + "/metrics", guarded(scrape), methods=["GET"]),
        Route(PREFIX + "/limits", guarded(get_limits), methods=["GET"]),
        Route(PREFIX + "/limits", guarded(put_limits), methods=["PUT"]),
        Route(PREFIX + "/limits", guarded(delete_limits), methods=["DELETE"]),
    ]
