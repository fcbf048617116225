"""Where two answers' shapes differ: status, content type, fields, types, SSE event names and order.

Values are ignored (they are generated), except those of constant-like fields (``object``, ``type``,
``role``). A JSON value's shape is the set of kinds found at each path, array items merged
(``$.data[].id``); an SSE stream's is the order of its event names (runs collapsed) and, per event
name, the shape of its JSON data.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .exchange import Json

CONSTANTS = frozenset({"object", "type", "role"})
# Worst first: what a client breaks on soonest.
SEVERITY = {
    "status": 0,
    "content-type": 1,
    "array-vs-object": 2,
    "type": 3,
    "missing": 4,
    "events": 5,
    "added": 6,
    "constant": 7,
}
Shape = dict[str, set[str]]


@dataclass(frozen=True)
class Difference:
    kind: str  # a key of SEVERITY
    at: str  # a JSON path ("$.choices[].message"), "event NAME $.path", or "" for status and type
    recorded: str
    live: str

    @property
    def severity(self) -> int:
        return SEVERITY[self.kind]


def kind_of(value: Json) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def shape_of(value: Json, at: str = "$", into: Shape | None = None, constants: Shape | None = None) -> Shape:
    """path -> the kinds met there; ``constants`` collects the values of constant-like fields."""
    shape: Shape = {} if into is None else into
    shape.setdefault(at, set()).add(kind_of(value))
    if isinstance(value, dict):
        for key, item in value.items():
            child = f"{at}.{key}"
            if constants is not None and key in CONSTANTS and isinstance(item, str):
                constants.setdefault(child, set()).add(item)
            shape_of(item, child, shape, constants)
    elif isinstance(value, list):
        for item in value:
            shape_of(item, f"{at}[]", shape, constants)
    return shape


def compare_json(recorded: Json, live: Json, prefix: str = "") -> list[Difference]:
    recorded_constants: Shape = {}
    live_constants: Shape = {}
    return compare_shapes(
        shape_of(recorded, constants=recorded_constants),
        shape_of(live, constants=live_constants),
        recorded_constants,
        live_constants,
        prefix,
    )


def compare_shapes(
    recorded: Shape, live: Shape, recorded_constants: Shape, live_constants: Shape, prefix: str = ""
) -> list[Difference]:
    found: list[Difference] = []
    for at in sorted(set(recorded) | set(live)):
        if _under_missing(at, recorded, live):
            continue  # inside a field already reported as missing or added
        a, b = recorded.get(at), live.get(at)
        if b is None:
            found.append(Difference("missing", prefix + at, _kinds(a), "absent"))
        elif a is None:
            found.append(Difference("added", prefix + at, "absent", _kinds(b)))
        elif a != b:
            containers = {"object", "array"}
            kind = (
                "array-vs-object"
                if (a & containers) and (b & containers) and not (a & b & containers)
                else "type"
            )
            found.append(Difference(kind, prefix + at, _kinds(a), _kinds(b)))
    for at in sorted(set(recorded_constants) & set(live_constants)):
        if recorded_constants[at] != live_constants[at]:
            found.append(
                Difference(
                    "constant", prefix + at, _kinds(recorded_constants[at]), _kinds(live_constants[at])
                )
            )
    return found


def _under_missing(at: str, recorded: Shape, live: Shape) -> bool:
    parent = _parent(at)
    while parent:
        if (parent in recorded) != (parent in live):
            return True
        parent = _parent(parent)
    return False


def _parent(at: str) -> str:
    if at.endswith("[]"):
        return at[:-2]
    cut = at.rfind(".")
    return at[:cut] if cut > 0 else ""


def _kinds(kinds: set[str] | None) -> str:
    return "|".join(sorted(kinds or ())) or "absent"


# -- SSE -------------------------------------------------------------------------------------------------


def sse_events(body: bytes) -> Iterator[tuple[str, str]]:
    """(event name, data) of each event of a stream ("message" when unnamed, "[DONE]" for the sentinel)."""
    text = body.decode("utf-8", "replace").replace("\r\n", "\n")
    for block in text.split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
        if not data and name == "message":
            continue
        joined = "\n".join(data)
        yield ("[DONE]" if joined.strip() == "[DONE]" else name), joined


def compare_streams(recorded: bytes, live: bytes) -> list[Difference]:
    recorded_events, live_events = list(sse_events(recorded)), list(sse_events(live))
    found: list[Difference] = []
    order_a, order_b = _runs(n for n, _ in recorded_events), _runs(n for n, _ in live_events)
    if order_a != order_b:
        found.append(Difference("events", "", ", ".join(order_a), ", ".join(order_b)))
    shapes_a, constants_a = _event_shapes(recorded_events)
    shapes_b, constants_b = _event_shapes(live_events)
    for name in sorted(set(shapes_a) & set(shapes_b)):
        found += compare_shapes(
            shapes_a[name], shapes_b[name], constants_a[name], constants_b[name], prefix=f"event {name} "
        )
    return found


def _runs(names: Iterator[str]) -> list[str]:
    runs: list[str] = []
    for name in names:
        if not runs or runs[-1] != name:
            runs.append(name)
    return runs


def _event_shapes(events: list[tuple[str, str]]) -> tuple[dict[str, Shape], dict[str, Shape]]:
    shapes: dict[str, Shape] = {}
    constants: dict[str, Shape] = {}
    for name, data in events:
        if name == "[DONE]":
            continue
        try:
            value: Any = json.loads(data)
        except ValueError:
            value = data
        shape_of(value, into=shapes.setdefault(name, {}), constants=constants.setdefault(name, {}))
    return shapes, constants


def media_type(headers: dict[str, str]) -> str:
    value = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    return value.split(";")[0].strip().lower()


def compare_answers(
    recorded_status: int,
    recorded_headers: dict[str, str],
    recorded_body: bytes,
    live_status: int,
    live_headers: dict[str, str],
    live_body: bytes,
) -> list[Difference]:
    """Every shape difference between a recorded answer and a live one (empty: the same shape)."""
    if recorded_status != live_status:
        return [Difference("status", "", str(recorded_status), str(live_status))]
    recorded_type, live_type = media_type(recorded_headers), media_type(live_headers)
    if recorded_type != live_type:
        return [Difference("content-type", "", recorded_type or "none", live_type or "none")]
    if recorded_type == "text/event-stream":
        return compare_streams(recorded_body, live_body)
    if recorded_type.endswith("json"):
        try:
            return compare_json(json.loads(recorded_body or b"null"), json.loads(live_body or b"null"))
        except ValueError:
            return []
    return []
