"""The fixture format as a JSON Schema, and its validation errors in plain words.

One schema serves the YAML files, the control API and ``emulator.scripts.add``. It is strict
(``additionalProperties: false`` everywhere) because a misspelt key, silently ignored, is the
fixture bug that costs the longest to find. ``x-expected`` on a schema is the phrase used when a
value does not fit it ("a string or {equals|contains|regex: string}").
"""

from __future__ import annotations

from typing import Any

_MS = {"type": "number", "minimum": 0, "maximum": 600_000,
       "x-expected": "a number of milliseconds, 0 to 600000"}
_COUNT = {"type": "integer", "minimum": 0, "x-expected": "a number of SSE events >= 0"}

TEXT_MATCHER: dict[str, Any] = {
    "x-expected": "a string (equals), or {equals: ...}, {contains: ...} or {regex: ...}",
    "anyOf": [
        {"type": "string"},
        {"type": "object", "minProperties": 1, "maxProperties": 1, "additionalProperties": False,
         "properties": {"equals": {"type": "string"}, "contains": {"type": "string"},
                        "regex": {"type": "string"}}},
    ],
}

MATCH: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "operation": {"type": "string",
                      "x-expected": "a path, an operationId, or chat|completions|embeddings|models"},
        "model": TEXT_MATCHER,
        "last_user_message": TEXT_MATCHER,
        "any_message": TEXT_MATCHER,
        "system_message": TEXT_MATCHER,
        "tool_result": {"type": "boolean"},
        "tool_call_id": {"type": "string"},
        "has_tools": {"type": "boolean"},
        "headers": {"type": "object", "additionalProperties": TEXT_MATCHER},
        # A value (compared as JSON) or a text matcher, per JSON path.
        "body": {"type": "object"},
    },
}

ERROR: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["status"],
    "properties": {
        "status": {"type": "integer", "minimum": 400, "maximum": 599,
                   "x-expected": "an HTTP status from 400 to 599"},
        "body": {},
        "headers": {"type": "object", "additionalProperties": {"type": ["string", "number"]}},
    },
}

STREAM_FAULT: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "truncate_after": _COUNT,
        "error_after": _COUNT,
        "drop_after": _COUNT,
        "error": {"type": "object"},
    },
}

RESPONSE: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "content": {"type": "string"},
        "chunks": {"type": "array", "items": {"type": "string"}},
        "chunk_delays_ms": {"type": "array", "items": _MS},
        "tool_calls": {"type": "array", "items": {
            "type": "object", "additionalProperties": False, "required": ["name"],
            "properties": {"name": {"type": "string", "minLength": 1},
                           "arguments": {"type": ["object", "string"],
                                         "x-expected": "an object or a JSON string"},
                           "id": {"type": "string"}}}},
        "finish_reason": {"type": "string"},
        "usage": {"type": "object", "additionalProperties": False, "properties": {
            "prompt_tokens": {"type": "integer", "minimum": 0},
            "completion_tokens": {"type": "integer", "minimum": 0},
            "total_tokens": {"type": "integer", "minimum": 0}}},
        "embeddings": {"type": "array", "items": {"type": "array", "items": {"type": "number"}},
                       "x-expected": "a list of vectors (lists of numbers)"},
        "headers": {"type": "object", "additionalProperties": {"type": ["string", "number"]}},
        "delay_ms": _MS,
        "ttft_ms": _MS,
        "itl_ms": _MS,
        "stream": STREAM_FAULT,
        "error": ERROR,
    },
}
RESPONSE_KEYS = frozenset(RESPONSE["properties"])

FIXTURE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "x-expected": "a fixture: a mapping with match and response (or responses)",
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "priority": {"type": "integer"},
        "times": {"type": "integer", "minimum": 1, "x-expected": "a number of uses >= 1"},
        "match": MATCH,
        "response": RESPONSE,
        "responses": {"type": "array", "items": RESPONSE, "minItems": 1},
    },
    "not": {"required": ["response", "responses"]},
}

_TYPE_WORDS = {"string": "a string", "integer": "an integer", "number": "a number",
               "boolean": "true or false",
               "object": "a mapping", "array": "a list", "null": "null"}


def explain(error: Any) -> str:
    """A jsonschema ValidationError -> what is wrong, in the fixture author's words."""
    schema, value = error.schema, error.instance
    got = f"got {_show(value)}"
    kind = error.validator
    if kind == "additionalProperties":
        allowed = ", ".join(sorted(schema.get("properties", {})))
        extra = sorted(set(value) - set(schema.get("properties", {})))
        plural = "s" if len(extra) > 1 else ""
        return f"unknown key{plural} {', '.join(map(repr, extra))} (allowed: {allowed})"
    if kind == "required":
        return f"missing key {error.message.split(chr(39))[1]!r}"
    if kind == "not" and error.validator_value == {"required": ["response", "responses"]}:
        return "give either response or responses, not both"
    if "x-expected" in schema and kind in ("type", "anyOf", "oneOf", "minimum", "maximum", "minProperties",
                                           "maxProperties"):
        return f"expected {schema['x-expected']}, {got}"
    if kind == "type":
        expected = error.validator_value
        kinds = expected if isinstance(expected, list) else [expected]
        words = " or ".join(_TYPE_WORDS.get(t, t) for t in kinds)
        return f"expected {words}, {got}"
    if kind == "minimum":
        return f"must be >= {error.validator_value}, {got}"
    if kind == "maximum":
        return f"must be <= {error.validator_value}, {got}"
    if kind == "minItems":
        return f"needs at least {error.validator_value} item(s), got {len(value)}"
    if kind == "minLength":
        return "must not be empty"
    return error.message


def _show(value: Any) -> str:
    import json

    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."
