"""A recorded exchange in the fixture format: its schema, its canonical request, and the check that
matches a live request against it.

A recording is a fixture whose ``match.request`` is the request as it was sent (method, path, query,
body in canonical form, the fields left out of matching) and whose response is ``raw``: the status,
headers and body the upstream gave, verbatim (a stream as its events, each with the delay before it).
This module imports nothing of the fixtures package: the loader and the matcher call it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl

Json = Any  # a parsed JSON body: any of dict, list, str, int, float, bool, None
_MISSING = object()
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an HTTP header name

RECORDED_REQUEST: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["method", "path"],
    "x-expected": "a recorded request: {method, path, query, body, files, ignore}",
    "properties": {
        "method": {"type": "string", "enum": ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]},
        "path": {"type": "string", "pattern": "^/"},
        "query": {"type": "object", "additionalProperties": {"type": "string"}},
        "body": {},
        "files": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "required": ["filename"],
                "properties": {
                    "filename": {"type": "string"},
                    "content_type": {"type": "string"},
                    "size": {"type": "integer", "minimum": 0},
                    "base64": {"type": "string"},
                },
            },
        },
        "ignore": {"type": "array", "items": {"type": "string"}},
    },
}

# An SSE event: ``data`` is its text without the blank line that ends it (the usual case), ``text``
# its exact text when it ends otherwise (a stream cut half way through an event).
RAW_EVENT: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "x-expected": "an event: {delay_ms, data} or {delay_ms, text}",
    "properties": {
        "data": {"type": "string"},
        "text": {"type": "string"},
        "delay_ms": {"type": "number", "minimum": 0, "maximum": 600_000},
    },
    "oneOf": [{"required": ["data"]}, {"required": ["text"]}],
}


def event_bytes(event: Mapping[str, Any]) -> bytes:
    if "text" in event:
        return str(event["text"]).encode("utf-8")
    return str(event["data"]).encode("utf-8") + b"\n\n"


def event_fields(data: bytes) -> dict[str, str]:
    text = data.decode("utf-8", "replace")
    if text.endswith("\n\n") and not text.endswith("\n\n\n"):
        return {"data": text[:-2]}
    return {"text": text}


RAW_RESPONSE: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["status"],
    "x-expected": "a recorded answer: {status, headers, body | body_base64 | events, cut}",
    "properties": {
        "status": {
            "type": "integer",
            "minimum": 100,
            "maximum": 599,
            "x-expected": "an HTTP status from 100 to 599",
        },
        "headers": {"type": "object", "additionalProperties": {"type": "string"}},
        "body": {"type": "string"},
        "body_base64": {"type": "string"},
        "events": {"type": "array", "items": RAW_EVENT},
        "cut": {"type": "boolean"},  # the upstream closed the connection before the body ended
        "seq": {"type": "integer", "minimum": 1},  # the exchange's place in the recording session
    },
}


def drop_fields(value: Json, ignored: frozenset[str]) -> Json:
    """The value without the ignored keys, at any depth."""
    if not ignored:
        return value
    if isinstance(value, dict):
        return {k: drop_fields(v, ignored) for k, v in value.items() if k not in ignored}
    if isinstance(value, list):
        return [drop_fields(v, ignored) for v in value]
    return value


def canonical_query(query: str | Mapping[str, str], ignored: Iterable[str] = ()) -> dict[str, str]:
    """A query string (or mapping) -> {name: value}, sorted, without the ignored names (a repeated
    name keeps its values joined by commas)."""
    skip = frozenset(ignored)
    pairs = parse_qsl(query, keep_blank_values=True) if isinstance(query, str) else list(query.items())
    out: dict[str, str] = {}
    for name, value in pairs:
        if name not in skip:
            out[name] = f"{out[name]},{value}" if name in out else value
    return dict(sorted(out.items()))


def first_difference(recorded: Json, seen: Json, at: str = "$") -> tuple[str, Json, Json] | None:
    """Where two JSON values first differ as JSON (key order ignored, true is not 1): (path, a, b)."""
    if isinstance(recorded, dict) and isinstance(seen, dict):
        for key in sorted(set(recorded) | set(seen)):
            a, b = recorded.get(key, _MISSING), seen.get(key, _MISSING)
            if a is _MISSING or b is _MISSING:
                return f"{at}.{key}", a, b
            found = first_difference(a, b, f"{at}.{key}")
            if found is not None:
                return found
        return None
    if isinstance(recorded, list) and isinstance(seen, list):
        if len(recorded) != len(seen):
            return f"{at} (length)", len(recorded), len(seen)
        for index, (a, b) in enumerate(zip(recorded, seen, strict=True)):
            found = first_difference(a, b, f"{at}[{index}]")
            if found is not None:
                return found
        return None
    same = (
        type(recorded) is type(seen)
        or (
            isinstance(recorded, (int, float))
            and isinstance(seen, (int, float))
            and not isinstance(recorded, bool)
            and not isinstance(seen, bool)
        )
    ) and recorded == seen
    return None if same else (at, recorded, seen)


def _show(value: Json) -> str:
    if value is _MISSING:
        return "absent"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


class RecordedRequest:
    """``match.request`` compiled: ``check`` says why a live request is not this one, or None."""

    def __init__(self, spec: Mapping[str, Any]):
        self.method: str = spec["method"]
        self.path: str = spec["path"]
        self.ignored = frozenset(spec.get("ignore") or ())
        self.query = canonical_query(spec.get("query") or {}, self.ignored)
        self.body: Json = _no_body(drop_fields(spec.get("body"), self.ignored))
        self.files = {name: f.get("filename") for name, f in (spec.get("files") or {}).items()}

    def check(
        self, method: str, path: str, query: str, body: Json, files: Mapping[str, str | None]
    ) -> str | None:
        if method != self.method:
            return f"method {method} is not the recorded {self.method}"
        if path != self.path:
            return f"path {path} is not the recorded {self.path}"
        live_query = canonical_query(query, self.ignored)
        if live_query != self.query:
            where = first_difference(self.query, live_query) or ("$.?", None, None)
            return f"query {where[0][2:]} is {_show(where[2])}, recorded {_show(where[1])}"
        difference = first_difference(self.body, _no_body(drop_fields(body, self.ignored)))
        if difference is not None:
            at, recorded, seen = difference
            return f"body {at} is {_show(seen)}, recorded {_show(recorded)}"
        if self.files and dict(files) != self.files:
            return f"uploaded files {dict(files)} are not the recorded {self.files}"
        return None


def _no_body(body: Json) -> Json:
    """No body, an empty one and ``{}`` are the same request (a recording leaves them out)."""
    return None if body in (None, {}, "") else body


def is_recording(raw: Mapping[str, Any]) -> bool:
    """Whether a fixture dict is a recorded exchange (matched on its request as sent)."""
    match = raw.get("match")
    return isinstance(match, Mapping) and "request" in match


def raw_problem(response: Mapping[str, Any]) -> str | None:
    """What is wrong with a fixture response holding ``raw`` (the schema has checked its types)."""
    others = sorted(set(response) - {"raw"})
    if others:
        return f"a recorded answer stands alone: remove {', '.join(others)} beside raw"
    for name, value in (response["raw"].get("headers") or {}).items():
        if not _TOKEN.match(name) or any(c in str(value) for c in "\r\n\0"):
            return f"headers.{name}: not a valid HTTP header (a name without spaces, a value on one line)"
    bodies = [k for k in ("body", "body_base64", "events") if k in response["raw"]]
    if len(bodies) > 1:
        return f"give one of body, body_base64 or events, got {', '.join(bodies)}"
    if "body_base64" in response["raw"]:
        import base64
        import binascii

        try:
            base64.b64decode(response["raw"]["body_base64"], validate=True)
        except (binascii.Error, ValueError):
            return "body_base64 is not valid base64"
    return None
