"""Operations -> Starlette routes: one ASGI endpoint per operation, built at start-up.

An ``Endpoint`` holds its operation's ``Route`` (validators, body limit, the handler named by
the operationId, whether it is a model call) compiled once; per request it makes a ``Call`` and
hands it to the pipeline (validation, control headers, fixtures, delivery, journal). Nothing
here knows what an operation does.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route as StarletteRoute
from starlette.routing import Router, get_route_path
from starlette.types import Receive, Scope, Send

from .bodies import body_limit
from .call import Call, Handler, Route, error_response, json_response
from .config import Settings
from .errors import MethodNotAllowed, NotFound, StartupError
from .hints import unknown_path_detail
from .operations import OperationNames
from .pipeline import Pipeline
from .queries import QueryValidator
from .spec import Operation
from .validation import BodyValidator

log = logging.getLogger("emulator")
# Call and json_response are re-exported for the handlers that import them from here.
__all__ = ["Call", "Endpoint", "Handler", "QueryValidator", "build_routes", "compile_route", "error_response",
           "json_response"]


def starlette_path(operation: Operation) -> str:
    """/api/v2/files/{id} -> /api/v2/files/{id:int} when the spec says the id is an integer, so that
    /files/abc is a 404 (as Django's <int:pk> route makes it) and the handler gets an int; likewise
    {uuid:uuid} for a ``format: uuid`` string (so /upload-session/deactivate is not a session)."""
    path = operation.path
    for param in operation.parameters:
        if param.location == "path" and param.schema.get("type") == "integer":
            path = path.replace("{" + param.name + "}", "{" + param.name + ":int}")
        elif param.location == "path" and param.schema.get("format") == "uuid":
            path = path.replace("{" + param.name + "}", "{" + param.name + ":uuid}")
    return path


def compile_route(operation: Operation, handler: Handler, names: OperationNames, settings: Settings) -> Route:
    """What the stages need of one operation, compiled once."""
    operation_id = operation.operation_id
    # An operation that takes a file is bounded by the upload limit (plus room for the multipart
    # envelope and the other fields: the handler checks the file itself); any other by the body limit.
    takes_file = '"format": "binary"' in json.dumps(operation.request_schemas)
    return Route(operation=operation, handler=handler, body_validator=BodyValidator(operation),
                 query_validator=QueryValidator(operation), body_limit=body_limit(settings, takes_file),
                 answering=operation_id in names.answering, matched_late=operation_id in names.matched_late)


class Endpoint:
    """One operation's ASGI app."""

    def __init__(self, route: Route, pipeline: Pipeline):
        self.route, self.pipeline = route, pipeline
        self.__name__ = route.operation.operation_id

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        call = Call(request, self.route, path_params=dict(request.path_params))
        pipeline = self.pipeline
        try:
            response = await pipeline.run(call)
        finally:
            # Uploaded files are spooled to temporary files; the handler has read what it keeps.
            await request.close()
        await pipeline.respond(call, response, scope, receive, send)


def build_routes(operations: list[Operation], handlers: Mapping[str, Handler], pipeline: Pipeline,
                 names: OperationNames, settings: Settings) -> list[StarletteRoute]:
    """One route per path (so a wrong method gets a 405 whose Allow lists every method of the path)."""
    by_path: dict[str, dict[str, Endpoint]] = {}
    for op in operations:
        handler = handlers.get(op.operation_id)
        if handler is None:
            raise StartupError(f"{op.method} {op.path}: no handler for operationId {op.operation_id!r}")
        route = compile_route(op, handler, names, settings)
        by_path.setdefault(starlette_path(op), {})[op.method] = Endpoint(route, pipeline)
    routes = []
    for path, endpoints in by_path.items():
        app = next(iter(endpoints.values())) if len(endpoints) == 1 else _ByMethod(endpoints)
        routes.append(StarletteRoute(path, app, methods=list(endpoints)))
    return routes


class _ByMethod:
    """A path with several operations: the one of the request's method (HEAD is GET's)."""

    def __init__(self, endpoints: dict[str, Endpoint]):
        self.endpoints = endpoints

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = "GET" if scope["method"] == "HEAD" else scope["method"]
        await self.endpoints[method](scope, receive, send)


async def not_found(request: Request, exc: Exception) -> Response:
    return error_response(NotFound(unknown_path_detail(request.url.path, request.headers)))


# Django's order of a view's methods; Starlette's come from a set, in no stable order.
_METHOD_ORDER = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE")


async def method_not_allowed(request: Request, exc: Exception) -> Response:
    allow = (getattr(exc, "headers", None) or {}).get("Allow", "")
    methods = sorted({m.strip().upper() for m in allow.split(",") if m.strip()},
                     key=lambda m: (_METHOD_ORDER.index(m) if m in _METHOD_ORDER else len(_METHOD_ORDER), m))
    return error_response(MethodNotAllowed(request.method, ", ".join(methods)))


async def http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return await not_found(request, exc)
    if exc.status_code == 405:
        return await method_not_allowed(request, exc)
    return json_response({"detail": exc.detail}, exc.status_code, dict(exc.headers) if exc.headers else None)


class StaticFirstRouter(Router):
    """Starlette's router, with one dict lookup first for the paths that have no parameters.

    Starlette tries routes in order, a regex each: a request for the 28th route paid 27 misses
    (about 20 us) before it was answered. A path without parameters is found by its text and
    method alone (``GET`` and ``POST /_emulator/fixtures`` are two routes), so those go straight
    to their route; anything else (a parameter, a wrong method: 405, an unknown path: 404) takes
    Starlette's own walk, unchanged."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.static: dict[tuple[str, str], StarletteRoute] = {}
        for route in self.routes:
            if isinstance(route, StarletteRoute) and not route.param_convertors and route.methods:
                for method in route.methods:
                    self.static.setdefault((route.path, method), route)

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            route = self.static.get((get_route_path(scope), scope["method"]))
            if route is not None:
                scope.setdefault("router", self)
                scope["route"] = route
                scope["endpoint"], scope["path_params"] = route.endpoint, {}
                await route.handle(scope, receive, send)
                return
        await super().app(scope, receive, send)


class ApiFirst:
    """ASGI middleware, the innermost one the application adds: an API path without parameters goes
    straight to its endpoint.

    Starlette puts its exception middleware and the router between the middleware and an endpoint,
    and the exception middleware wraps ``send``: two more calls on every message a response sends,
    hundreds for a stream. The API's endpoints answer their own errors (the pipeline turns every
    ``EmulatorError`` into its response), so they need neither; everything else (a path with
    parameters, a wrong method, an unknown path, the control API) goes the usual way. The server
    error middleware stays outermost for all of it."""

    def __init__(self, app: Any, routes: list[StarletteRoute]):
        self.app = app
        self.endpoints: dict[tuple[str, str], Any] = {}
        for route in routes:
            if isinstance(route.app, (Endpoint, _ByMethod)) and not route.param_convertors and route.methods:
                for method in route.methods:
                    self.endpoints.setdefault((route.path, method), route.app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            endpoint = self.endpoints.get((get_route_path(scope), scope["method"]))
            if endpoint is not None:
                await endpoint(scope, receive, send)
                return
        await self.app(scope, receive, send)
