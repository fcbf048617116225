"""A JSON instance of a schema, drawn from a seeded ``random``.

``instance`` knows types, properties, required, enum, const, $ref, allOf/anyOf/oneOf, arrays
(items, prefixItems, minItems, maxItems, uniqueItems), string lengths, formats and patterns, and
number bounds. What it draws is paid from the ``Budget`` set by ``budget_for`` (values and depth),
and every error it raises names the request field the budget says is being followed (a ``pattern``
inside ``response_format`` is ``response_format``'s error, not ``guided_regex``'s).
"""

from __future__ import annotations

import random
import uuid
from typing import Any

from ..errors import BadRequest
from .budget import MAX_ITEMS, Budget, current, field, spend
from .regex_text import regex_instance
from .text import sentences

__all__ = ["instance"]

MAX_DEPTH = 6  # deeper than this, objects get only their required properties and arrays their minItems
CHARS_PER_VALUE = 100  # a long string costs one value per this many characters


def instance(schema: Any, rng: random.Random, root: Any = None, depth: int = 0) -> Any:
    """A value valid for ``schema`` (the common JSON Schema keywords), drawn from ``rng``."""
    root = schema if root is None else root
    budget = current() or Budget()
    budget.enter(depth)
    budget.spend()
    if schema is True or schema == {}:
        return _text(rng, 1, 3)
    if not isinstance(schema, dict):
        return None
    if "$ref" in schema:
        return instance(_resolve(root, schema["$ref"]), rng, root, depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return rng.choice(schema["enum"])
    if "allOf" in schema:
        merged = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            part = _resolve(root, part["$ref"]) if isinstance(part, dict) and "$ref" in part else part
            if isinstance(part, dict):
                merged = _merge(merged, part)
        return instance(merged, rng, root, depth)
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            branches = [b for b in schema[key] if not (isinstance(b, dict) and b.get("type") == "null")]
            branch = branches[0] if key == "oneOf" and branches else rng.choice(branches or schema[key])
            rest = {k: v for k, v in schema.items() if k != key}
            return instance(_merge(rest, branch) if isinstance(branch, dict) else branch, rng, root, depth)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
    maker = _MAKERS.get(kind)
    return maker(schema, rng, root, depth) if maker else None


def _resolve(root: Any, ref: str) -> Any:
    if not ref.startswith("#"):
        raise BadRequest(f"Only local $ref are supported in JSON schemas, got {ref!r}.",
                         param=field())
    node = root
    for part in filter(None, ref[1:].split("/")):
        part = part.replace("~1", "/").replace("~0", "~")
        node = node.get(part) if isinstance(node, dict) else None
    if node is None:
        raise BadRequest(f"The $ref {ref!r} points to nothing in the schema.", param=field())
    return node


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    merged = {**a, **b}
    if "properties" in a and "properties" in b:
        merged["properties"] = {**a["properties"], **b["properties"]}
    if "required" in a and "required" in b:
        merged["required"] = list(dict.fromkeys([*a["required"], *b["required"]]))
    return merged


def _object(schema: dict[str, Any], rng: random.Random, root: Any, depth: int) -> dict[str, Any]:
    properties = schema.get("properties") or {}
    required = [name for name in schema.get("required") or () if isinstance(name, str)]
    chosen = [name for name in properties if name in required or (depth < 3 and rng.random() < 0.5)]
    chosen += [name for name in required if name not in chosen]
    for name in properties:  # minProperties from the optional ones first
        if len(chosen) >= schema.get("minProperties", 0):
            break
        if name not in chosen:
            chosen.append(name)
    result = {name: instance(properties.get(name, {}), rng, root, depth + 1) for name in chosen}
    extra = schema.get("additionalProperties", True)
    while len(result) < schema.get("minProperties", 0) and extra is not False:
        value_schema = extra if isinstance(extra, dict) else {}
        result[f"key_{len(result)}"] = instance(value_schema, rng, root, depth + 1)
    return result


def _array(schema: dict[str, Any], rng: random.Random, root: Any, depth: int) -> list[Any]:
    prefix = schema.get("prefixItems") or (schema["items"] if isinstance(schema.get("items"), list) else [])
    items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
    low = min(max(int(schema.get("minItems", 1 if depth < MAX_DEPTH else 0)), 0), MAX_ITEMS)
    high = min(int(schema.get("maxItems", max(low, 3))), MAX_ITEMS)
    count = rng.randint(low, max(low, high)) if depth < MAX_DEPTH else low
    values: list[Any] = []
    for _ in range(count * 20 + 20):  # uniqueItems may need a few draws
        if len(values) >= count:
            break
        at = len(values)
        value = instance(prefix[at] if at < len(prefix) else items, rng, root, depth + 1)
        if not (schema.get("uniqueItems") and value in values):
            values.append(value)
    return values


def _string(schema: dict[str, Any], rng: random.Random, root: Any, depth: int) -> str:
    low, high = min(int(schema.get("minLength", 0)), MAX_ITEMS * 40), schema.get("maxLength")
    fmt = schema.get("format")
    if "pattern" in schema:
        text = regex_instance(schema["pattern"], rng)
    elif fmt in _FORMATS:
        text = _FORMATS[fmt](rng)
    else:
        text = _text(rng, 1, 4)
    while len(text) < low:
        text += " " + _text(rng, 1, 3) if text else _text(rng, 1, 3)
    spend(len(text) // CHARS_PER_VALUE)
    return text[:high] if isinstance(high, int) and "pattern" not in schema and fmt not in _FORMATS else text


def _number(schema: dict[str, Any], rng: random.Random, root: Any, depth: int, integer: bool = False) -> Any:
    low = schema.get("minimum", schema.get("exclusiveMinimum", 0))
    high = schema.get("maximum", schema.get("exclusiveMaximum", max(low, 0) + 100))
    step = schema.get("multipleOf")
    step = step if isinstance(step, (int, float)) and step > 0 else None
    if integer or step:
        unit = step or 1
        first, last = _ceil_div(low, unit), int(high // unit)
        floor, ceiling = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
        if isinstance(floor, (int, float)) and first * unit <= floor:
            first += 1
        if isinstance(ceiling, (int, float)) and last * unit >= ceiling:
            last -= 1
        value = rng.randint(first, max(first, last)) * unit
        return int(value) if integer or float(value).is_integer() and isinstance(unit, int) else value
    value = round(rng.uniform(low, high), 2)
    if not low <= value <= high or value in (schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")):
        value = (low + high) / 2
    return value


def _ceil_div(value: float, unit: float) -> int:
    return -int(-value // unit)


_MAKERS = {
    "object": _object,
    "array": _array,
    "string": _string,
    "number": _number,
    "integer": lambda s, r, root, d: _number(s, r, root, d, integer=True),
    "boolean": lambda s, r, root, d: r.random() < 0.5,
    "null": lambda s, r, root, d: None,
}


def _text(rng: random.Random, low: int, high: int) -> str:
    words = next(sentences(rng)).rstrip(".").replace(",", "").split()
    return " ".join(words[:rng.randint(low, min(high, len(words)))]).lower()


_FORMATS = {
    "date-time": lambda r: f"2025-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}T{r.randint(0, 23):02d}:"
                           f"{r.randint(0, 59):02d}:{r.randint(0, 59):02d}Z",
    "date": lambda r: f"2025-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}",
    "time": lambda r: f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}",
    "email": lambda r: _text(r, 1, 1).replace(" ", "") + "@example.com",
    "uri": lambda r: "https://example.com/" + _text(r, 1, 2).replace(" ", "-"),
    "url": lambda r: "https://example.com/" + _text(r, 1, 2).replace(" ", "-"),
    "hostname": lambda r: _text(r, 1, 1).replace(" ", "") + ".example.com",
    "uuid": lambda r: str(uuid.UUID(int=r.getrandbits(128), version=4)),
    "ipv4": lambda r: ".".join(str(r.randint(1, 254)) for _ in range(4)),
    "ipv6": lambda r: ":".join(f"{r.getrandbits(16):x}" for _ in range(8)),
}

