"""Operations -> Starlette routes; every request's way in and out.

One endpoint per operation, built at start-up: authenticate (as DRF does, before
the body is read), parse the body, validate it and the query against the
operation's schemas, call the handler named by the operationId, and turn any
``EmulatorError`` into its JSON body. Nothing here knows what an operation does.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from jsonschema import Draft7Validator
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .auth import authenticate
from .bodies import parse_body
from .errors import EmulatorError, MethodNotAllowed, NotFound, ParseError, ValidationError, dumps
from .spec import Operation
from .validation import BodyValidator, coerce_parameter, drf_errors

log = logging.getLogger("emulator")

Handler = Callable[["Call"], Awaitable[Response]]


@dataclass
class Call:
    """One request, parsed and validated, as a handler sees it."""

    request: Request
    operation: Operation
    emulator: Any  # app.Emulator (not imported: app imports us)
    body: Any = field(default_factory=dict)
    content_type: str = "application/json"
    uploads: dict[str, UploadFile] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)
    path_params: dict[str, Any] = field(default_factory=dict)
    raw_body: bytes = b""
    # Set by whoever answered: the fixture that matched, for the journal.
    fixture: str | None = None
    started: float = field(default_factory=time.perf_counter)

    @property
    def headers(self):
        return self.request.headers


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(body), status_code=status, headers=headers, media_type="application/json")


def error_response(exc: EmulatorError) -> Response:
    return json_response(exc.body(), exc.status, dict(exc.headers) or None)


class _QueryValidator:
    def __init__(self, operation: Operation):
        params = [p for p in operation.parameters if p.location == "query"]
        self.schemas = {p.name: p.schema for p in params}
        schema = {"type": "object", "properties": self.schemas,
                  "required": [p.name for p in params if p.required]}
        self.validator = Draft7Validator(schema) if params else None

    def check(self, request: Request) -> dict[str, Any]:
        if self.validator is None:
            return dict(request.query_params)
        query: dict[str, Any] = {}
        for name, raw in request.query_params.multi_items():
            schema = self.schemas.get(name)
            query[name] = coerce_parameter(schema, raw) if schema else raw
        if not self.validator.is_valid(query):
            raise ValidationError(drf_errors(self.validator.iter_errors(query), query))
        return query


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


def make_endpoint(operation: Operation, handler: Handler, emulator: Any) -> Callable[[Request], Awaitable[Response]]:
    body_validator = BodyValidator(operation)
    query_validator = _QueryValidator(operation)
    settings = emulator.settings
    # An operation that takes a file is bounded by the upload limit (plus room for the multipart envelope
    # and the other fields: the handler names the file that is too large); any other body by the body limit.
    takes_file = '"format": "binary"' in json.dumps(operation.request_schemas)
    body_limit = int((settings.max_upload_mb + 1 if takes_file else settings.max_body_mb) * 1024 * 1024)

    async def endpoint(request: Request) -> Response:
        call = Call(request, operation, emulator, path_params=dict(request.path_params))
        try:
            if operation.secured:
                authenticate(request, settings.api_keys)
            if operation.accepts_body:
                parsed = await parse_body(request, operation, body_limit)
                call.content_type, call.body, call.uploads, call.raw_body = (
                    parsed.content_type, parsed.data, parsed.uploads, parsed.raw)
                body_validator.check(call.content_type, call.body)
            call.query = query_validator.check(request)
            response = await emulator.dispatch(call, handler)
        except EmulatorError as exc:
            response = error_response(exc)
        except RecursionError:
            response = error_response(ParseError("JSON parse error - maximum nesting depth exceeded"))
        finally:
            # Uploaded files are spooled to temporary files; the handler has read what it keeps.
            await request.close()
        await emulator.journal.record(call, status=response.status_code, outcome="complete",
                                      seconds=time.perf_counter() - call.started)
        return response

    endpoint.__name__ = operation.operation_id
    return endpoint


def build_routes(operations: list[Operation], handlers: dict[str, Handler], emulator: Any) -> list[Route]:
    """One route per path (so a wrong method gets a 405 whose Allow lists every method of the path)."""
    by_path: dict[str, dict[str, Callable[[Request], Awaitable[Response]]]] = {}
    for op in operations:
        handler = handlers.get(op.operation_id)
        if handler is None:
            raise LookupError(f"{op.method} {op.path}: no handler for operationId {op.operation_id!r}")
        by_path.setdefault(starlette_path(op), {})[op.method] = make_endpoint(op, handler, emulator)
    routes = []
    for path, endpoints in by_path.items():
        if len(endpoints) == 1:
            (method, endpoint), = endpoints.items()
        else:
            endpoint = _by_method(endpoints)
        routes.append(Route(path, endpoint, methods=list(endpoints)))
    return routes


def _by_method(endpoints: dict[str, Callable[[Request], Awaitable[Response]]]):
    async def endpoint(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        return await endpoints[method](request)

    return endpoint


async def not_found(request: Request, exc: Exception) -> Response:
    return error_response(NotFound())


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
    return json_response({"detail": exc.detail}, exc.status_code, exc.headers)
