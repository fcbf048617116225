"""Errors, shaped as the two layers of the real stack shape them.

Paradigm is a Django REST Framework application in front of vLLM model servers,
so a rejected request gets one of two bodies. Every error of the package derives from
``ParadigmEmulatorError``::

    ParadigmEmulatorError
    ├── StartupError                   why the emulator cannot start (the CLI prints it, exits 2)
    │   ├── FixtureError               a fixture file or dict (scripts.loading; a ValueError too)
    │   └── DirectoryError             the agents file (conversations.directory; a ValueError too)
    └── EmulatorError                  a request's error: status, body(), headers
        ├── ApiError                   DRF layer: {"detail": "..."} or a field dict
        │   ├── ParseError        400  malformed JSON / form / multipart
        │   ├── ValidationError   400  {"field": ["message", ...], ...}
        │   ├── ControlHeaderError 400 a misspelt or malformed X-Emulator-* header (controls)
        │   ├── NotAuthenticated  401  no bearer key
        │   ├── AuthenticationFailed 401 a key that is not accepted
        │   ├── NotFound          404  unknown path or object
        │   ├── MethodNotAllowed  405  (with Allow)
        │   ├── Conflict          409  a fixture file's fixture removed through the control API
        │   ├── TurnRunning       409  a turn asked while the thread's last one runs (conversations.turns)
        │   ├── PayloadTooLarge   413
        │   ├── UnsupportedMediaType 415
        │   └── StateUnavailable  503  the state backend (Redis) cannot be reached
        └── ModelServerError           vLLM layer: {"error": {"message", "type", "param", "code"}}
            ├── BadRequest        400  BadRequestError (context window, n, wrong model kind ...)
            ├── ModelNotFound     404  NotFoundError
            └── Unmatched         404  --strict: no fixture matched a model call (scripts.near_misses)

Raise request errors anywhere below a route; the pipeline turns them into responses
(``call.error_response``, the one place an error becomes a response).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .jsonbytes import dumps as fast_dumps


def dumps(obj: Any, default: Callable[[Any], Any] | None = None) -> bytes:
    """Compact JSON, as vLLM (pydantic) and DRF write it (orjson's speed, the standard library's bytes)."""
    if default is None:
        return fast_dumps(obj)
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=default).encode()


class ParadigmEmulatorError(Exception):
    """The base of every error the package raises on purpose."""


class StartupError(ParadigmEmulatorError):
    """The emulator cannot start: the message names the file (and line) or the flag at fault."""


class EmulatorError(ParadigmEmulatorError):
    status = 500
    headers: dict[str, str] = {}

    def body(self) -> Any:
        raise NotImplementedError


class ApiError(EmulatorError):
    default_detail = "A server error occurred."

    def __init__(self, detail: str | None = None, headers: dict[str, str] | None = None):
        self.detail = detail or self.default_detail
        if headers:
            self.headers = headers
        super().__init__(self.detail)

    def body(self) -> Any:
        return {"detail": self.detail}


class ParseError(ApiError):
    status = 400
    default_detail = "Malformed request."


class ValidationError(ApiError):
    status = 400

    def __init__(self, fields: dict[str, Any]):
        self.fields = fields
        super().__init__(json.dumps(fields))

    def body(self) -> Any:
        return self.fields


class NotAuthenticated(ApiError):
    status = 401
    default_detail = "Authentication credentials were not provided."
    headers = {"WWW-Authenticate": 'Bearer realm="api"'}


class AuthenticationFailed(ApiError):
    status = 401
    default_detail = "Invalid token."
    headers = {"WWW-Authenticate": 'Bearer realm="api"'}


class NotFound(ApiError):
    status = 404
    default_detail = "Not found."


class MethodNotAllowed(ApiError):
    status = 405

    def __init__(self, method: str, allow: str):
        super().__init__(f'Method "{method}" not allowed.', headers={"Allow": allow})


class PayloadTooLarge(ApiError):
    status = 413


class UnsupportedMediaType(ApiError):
    status = 415

    def __init__(self, media_type: str):
        super().__init__(f'Unsupported media type "{media_type}" in request.')


class StateUnavailable(ApiError):
    """The shared state (Redis) cannot be reached: every request that needs it gets this until it is
    back; the emulator itself keeps running."""

    status = 503
    default_detail = "The state backend is unavailable."
    headers = {"Retry-After": "1"}


class ModelServerError(EmulatorError):
    error_type = "BadRequestError"

    def __init__(self, message: str, param: str | None = None):
        self.message = message
        self.param = param
        super().__init__(message)

    def body(self) -> Any:
        return {"error": {"message": self.message, "type": self.error_type, "param": self.param,
                          "code": self.status}}


class BadRequest(ModelServerError):
    status = 400
    error_type = "BadRequestError"


class ModelNotFound(ModelServerError):
    status = 404
    error_type = "NotFoundError"

    def __init__(self, model: str):
        super().__init__(f"The model `{model}` does not exist.", param="model")
