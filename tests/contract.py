"""Every answer the tests see is checked against the spec the emulator serves.

``Contract`` finds the ``Operation`` of a method and path among
``server.emulator.operations`` and validates a JSON body against
``operation.response_schemas[status]["application/json"]``, and each SSE chunk of
a stream against the spec's ``ChatCompletionChunk`` / ``CompletionChunk``
component. An undocumented status is a failure too: the spec must describe every
answer the emulator can give.

The fixtures below (``api``, ``sdk``, ``sdk_v3``, ``async_sdk``) are clients whose
every response goes through ``Contract.check`` before the test sees it; a test
module loads them with ``pytest_plugins = ("contract",)``.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import httpx
import openai
import pytest
from jsonschema import Draft7Validator

from emulator.routing import starlette_path

if TYPE_CHECKING:
    from emulator.app import Emulator

KEY = "test-key"
TIMEOUT = httpx.Timeout(10.0)
SSE = "text/event-stream"
JSON = "application/json"

# What a request to a path no operation serves gets: DRF's {"detail": ...}.
_DETAIL = Draft7Validator(
    {
        "type": "object",
        "properties": {"detail": {"type": "string"}},
        "required": ["detail"],
        "additionalProperties": False,
    }
)


def vllm_error(message: str, param: str | None = None, status: int = 400,
               kind: str = "BadRequestError") -> dict[str, Any]:
    """The model server's (vLLM's) error body, as the emulator sends it."""
    return {"error": {"message": message, "type": kind, "param": param, "code": status}}


# The default bodies of a status forced on a model call (a control header, a fixture's error).
DEFAULT_VLLM_ERRORS = {
    400: vllm_error("Bad Request."),
    500: vllm_error("Internal Server Error.", status=500, kind="InternalServerError"),
    503: vllm_error("Service Unavailable.", status=503, kind="ServiceUnavailableError"),
}


class ContractError(AssertionError):
    pass


def parse_sse(raw: bytes) -> list[Any]:
    """``data: {json}\\n\\n`` events -> their JSON values, ``"[DONE]"`` kept as the string.
    Anything that is not a well-formed event is a failure."""
    text = raw.decode("utf-8")
    if not text.endswith("\n\n"):
        raise ContractError(f"an SSE body must end with a blank line, got {text[-40:]!r}")
    events = []
    for block in text[:-2].split("\n\n"):
        if not block.startswith("data: ") or "\n" in block:
            raise ContractError(f"not a single-line 'data: ' event: {block[:120]!r}")
        payload = block[len("data: ") :]
        events.append(payload if payload == "[DONE]" else json.loads(payload))
    return events


_TURN_EVENT_SCHEMAS = {
    "turn.created": "TurnEventTurn", "turn.completed": "TurnEventTurn", "turn.failed": "TurnEventTurn",
    "turn.cancelled": "TurnEventTurn", "tool_call.started": "TurnEventToolCallStarted",
    "tool_call.step": "TurnEventToolCallStep", "tool_call.completed": "TurnEventToolCallCompleted",
    "text.delta": "TurnEventDelta", "reasoning.delta": "TurnEventDelta",
}
_TURN_ENDS = ("turn.completed", "turn.failed", "turn.cancelled")


def parse_turn_sse(raw: bytes) -> list[tuple[str, str]]:
    """A turn's ``event: <type>\ndata: <json>\n\n`` blocks -> (type, JSON text); anything else fails."""
    text = raw.decode("utf-8")
    if not text.endswith("\n\n"):
        raise ContractError(f"an SSE body must end with a blank line, got {text[-40:]!r}")
    found = []
    for block in text[:-2].split("\n\n"):
        lines = block.split("\n")
        if len(lines) != 2 or not lines[0].startswith("event: ") or not lines[1].startswith("data: "):
            raise ContractError(f"not an 'event: ' + 'data: ' event: {block[:120]!r}")
        found.append((lines[0][len("event: "):], lines[1][len("data: "):]))
    return found


# What the router's path converters match (routing.starlette_path), so that /upload-session/deactivate
# is not taken for /upload-session/{uuid}.
_CONVERTERS = {"int": "[0-9]+", "uuid": "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"}


def _route_pattern(op) -> re.Pattern:
    path = starlette_path(op)
    return re.compile("^" + re.sub(r"\{[^}/:]+(?::(\w+))?\}", lambda m: _CONVERTERS.get(m[1], "[^/]+"), path)
                      + "/?$")


class Contract:
    """The response schemas of one running emulator, compiled once."""

    def __init__(self, emulator: Emulator):
        """``emulator``: the app's, or a test server's view of it (``server.emulator``)."""
        self.operations = list(emulator.operations)
        self._routes = [(op, _route_pattern(op)) for op in self.operations]
        self._components = {spec.version: spec.components for spec in emulator.specs}
        self._validators: dict[int, Draft7Validator] = {}

    def operation(self, method: str, path: str):
        method = "GET" if method.upper() == "HEAD" else method.upper()
        for op, pattern in self._routes:
            if op.method == method and pattern.match(path):
                return op
        return None

    def _validator(self, schema: dict[str, Any]) -> Draft7Validator:
        key = id(schema)
        if key not in self._validators:
            self._validators[key] = Draft7Validator(schema)
        return self._validators[key]

    def check_body(self, method: str, path: str, status: int, body: Any) -> None:
        """A JSON body against the schema of its operation and status."""
        op = self.operation(method, path)
        if op is None:  # no operation serves this method and path: a routing 404 or 405
            _raise_errors(_DETAIL, body, f"{method} {path} -> {status}")
            return
        documented = op.response_schemas.get(str(status))
        if documented is None:
            raise ContractError(
                f"{op.operation_id}: status {status} is not documented in the spec "
                f"(documented: {sorted(op.response_schemas)}); body {body!r:.300}"
            )
        schema = documented.get(JSON)
        if schema is None:
            raise ContractError(f"{op.operation_id}: status {status} has no application/json schema")
        _raise_errors(self._validator(schema), body, f"{op.operation_id} -> {status}")

    def chunk_schema(self, method: str, path: str) -> dict[str, Any]:
        op = self.operation(method, path)
        assert op is not None, f"{method} {path}: no operation streams here"
        name = "ChatCompletionChunk" if op.path.endswith("/chat/completions") else "CompletionChunk"
        return self._components[op.version][name]

    def check_stream(self, method: str, path: str, status: int, raw: bytes) -> list[Any]:
        """An SSE body: documented as text/event-stream, every chunk valid, ``[DONE]`` last and only last
        (a turn's stream: every event valid for its type, a terminal turn event last)."""
        op = self.operation(method, path)
        assert op is not None, f"{method} {path}: no operation streams here"
        if SSE not in op.response_schemas.get(str(status), {}):
            raise ContractError(f"{op.operation_id}: {status} {SSE} is not documented in the spec")
        if op.path.endswith("/turns"):
            return self.check_turn_stream(op, raw)
        events = parse_sse(raw)
        if not events or events[-1] != "[DONE]" or "[DONE]" in events[:-1]:
            raise ContractError(f"the stream must end with exactly one data: [DONE], got {events[-3:]!r}")
        chunk = self._validator(self.chunk_schema(method, path))
        error = self._validator(self._components[op.version]["ModelServerError"])
        for event in events[:-1]:
            _raise_errors(error if "error" in event else chunk, event, f"{op.operation_id} chunk")
        return events

    def check_turn_stream(self, op, raw: bytes) -> list[Any]:
        """``event: <type>`` + ``data: <JSON>`` blocks, each data valid for the spec's schema of its type."""
        components = self._components[op.version]
        events = []
        for event, payload in parse_turn_sse(raw):
            data = json.loads(payload)
            if data.get("type") != event:
                raise ContractError(f"event {event!r} carries data of type {data.get('type')!r}")
            name = _TURN_EVENT_SCHEMAS.get(event)
            if name is None:
                raise ContractError(f"{op.operation_id}: undocumented turn event {event!r}")
            _raise_errors(self._validator(components[name]), data, f"{op.operation_id} {event}")
            events.append(data)
        if not events or events[0]["type"] != "turn.created" or events[-1]["type"] not in _TURN_ENDS:
            raise ContractError(f"a turn stream goes from turn.created to a terminal event, got "
                                f"{[e['type'] for e in events][:3]}...")
        return events

    def check(self, response: httpx.Response) -> None:
        """A finished httpx response (its body read) against the spec."""
        request = response.request
        ctype = response.headers.get("content-type", "").split(";")[0].strip()
        path = request.url.path
        if ctype == SSE:
            self.check_stream(request.method, path, response.status_code, response.content)
        elif request.method == "HEAD" or response.status_code == 204:
            assert not response.content, f"{request.method} {path}: a body where none is allowed"
        else:
            if ctype != JSON:
                raise ContractError(
                    f"{request.method} {path} -> {response.status_code}: content type "
                    f"{ctype!r}, not JSON: {response.text[:200]!r}"
                )
            self.check_body(request.method, path, response.status_code, response.json())


def _raise_errors(validator: Draft7Validator, body: Any, where: str) -> None:
    errors = sorted(validator.iter_errors(body), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        lines = "; ".join(
            f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:200]}" for e in errors[:5]
        )
        raise ContractError(f"{where}: the body does not match the spec: {lines}")


# --- clients whose every response is checked -----------------------------------------------


@pytest.fixture(scope="session")
def contract(server) -> Contract:
    return Contract(server.emulator)


def checking_hooks(contract: Contract) -> dict[str, list]:
    def check(response: httpx.Response) -> None:
        response.read()
        contract.check(response)

    return {"response": [check]}


def async_checking_hooks(contract: Contract) -> dict[str, list]:
    async def check(response: httpx.Response) -> None:
        await response.aread()
        contract.check(response)

    return {"response": [check]}


@pytest.fixture
def api(server, contract):
    """httpx with the bearer key: exact bytes, status codes and headers, every answer checked."""
    with httpx.Client(
        base_url=server.base_url,
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=TIMEOUT,
        event_hooks=checking_hooks(contract),
    ) as client:
        yield client


def _sdk(base_url: str, contract: Contract) -> openai.OpenAI:
    transport = httpx.Client(timeout=TIMEOUT, event_hooks=checking_hooks(contract))
    return openai.OpenAI(api_key=KEY, base_url=base_url, max_retries=0, http_client=transport)


@pytest.fixture
def sdk(server, contract):
    """The openai SDK on /api/v2; every answer (streams included, read whole) checked."""
    with _sdk(server.v2, contract) as client:
        yield client


@pytest.fixture
def sdk_v3(server, contract):
    with _sdk(server.v3, contract) as client:
        yield client


@pytest.fixture
async def async_sdk(server, contract):
    transport = httpx.AsyncClient(timeout=TIMEOUT, event_hooks=async_checking_hooks(contract))
    async with openai.AsyncOpenAI(
        api_key=KEY, base_url=server.v2, max_retries=0, http_client=transport
    ) as client:
        yield client
