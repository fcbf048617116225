"""A JSON instance of a schema, and a string matching a regex, drawn from a seeded ``random``.

``instance`` knows types, properties, required, enum, const, $ref, allOf/anyOf/oneOf, arrays
(items, prefixItems, minItems, maxItems, uniqueItems), string lengths, formats and patterns, and
number bounds. What it draws is paid from the ``Budget`` set by ``budget_for`` (values and depth),
and every error it raises names the request field the budget says is being followed (a ``pattern``
inside ``response_format`` is ``response_format``'s error, not ``guided_regex``'s).
"""

from __future__ import annotations

import contextvars
import random
import re
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ..config import Settings
from ..errors import BadRequest
from .text import sentences

if sys.version_info >= (3, 11):
    from re import _parser as _regex_parser
else:  # pragma: no cover - Python 3.10
    import sre_parse as _regex_parser

MAX_DEPTH = 6  # deeper than this, objects get only their required properties and arrays their minItems
MAX_ITEMS = 256  # what minItems, minLength and regex repeats may ask for, at most
CHARS_PER_VALUE = 100  # a long string costs one value per this many characters


@dataclass
class Budget:
    """What the structured output of one request may cost: values drawn (array items, properties,
    regex repeats, and long strings by their length) and depth of nesting."""

    values: int = 10_000
    depth: int = 32
    spent: int = 0
    field: str = "response_format"  # the request field being followed: every error names it

    @classmethod
    def of(cls, settings: Settings) -> Budget:
        return cls(values=settings.max_structured_values, depth=settings.max_structured_depth)

    def spend(self, values: int = 1) -> None:
        self.spent += values
        if self.spent > self.values:
            raise BadRequest(f"The requested structured output needs more than {self.values} values (arrays, "
                             f"properties, long strings or regex repeats); the limit is "
                             f"--max-structured-values {self.values}. Ask for fewer (minItems, minLength) or "
                             f"raise the limit.",
                             param=self.field)

    def enter(self, depth: int) -> None:
        if depth > self.depth:
            raise BadRequest(f"The requested structured output nests deeper than {self.depth} levels (a "
                             f"$ref that requires itself?); the limit is --max-structured-depth "
                             f"{self.depth}.",
                             param=self.field)


# The budget of the output being generated: set by budget_for, so that every maker can spend it.
_budget: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("structured_budget", default=None)


def _spend(values: int = 1) -> None:
    budget = _budget.get()
    if budget is not None:
        budget.spend(values)


def _field() -> str:
    budget = _budget.get()
    return budget.field if budget is not None else "response_format"


@contextmanager
def budget_for(budget: Budget) -> Iterator[Budget]:
    """Spend ``budget`` on every value drawn in this block (and name its ``field`` in every error)."""
    token = _budget.set(budget)
    try:
        yield budget
    finally:
        _budget.reset(token)


# -- a JSON instance of a schema --------------------------------------------------------------------


def instance(schema: Any, rng: random.Random, root: Any = None, depth: int = 0) -> Any:
    """A value valid for ``schema`` (the common JSON Schema keywords), drawn from ``rng``."""
    root = schema if root is None else root
    budget = _budget.get() or Budget()
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
                         param=_field())
    node = root
    for part in filter(None, ref[1:].split("/")):
        part = part.replace("~1", "/").replace("~0", "~")
        node = node.get(part) if isinstance(node, dict) else None
    if node is None:
        raise BadRequest(f"The $ref {ref!r} points to nothing in the schema.", param=_field())
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
    _spend(len(text) // CHARS_PER_VALUE)
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


# -- a string matching a regex ----------------------------------------------------------------------

_CATEGORIES = {
    "CATEGORY_DIGIT": "0123456789",
    "CATEGORY_WORD": "abcdefghijklmnopqrstuvwxyz0123456789",
    "CATEGORY_SPACE": " ",
    "CATEGORY_NOT_DIGIT": "abcdefghijklmnopqrstuvwxyz",
    "CATEGORY_NOT_WORD": "-.,: ",
    "CATEGORY_NOT_SPACE": "abcdefghijklmnopqrstuvwxyz",
}


def regex_instance(pattern: str, rng: random.Random) -> str:
    """A string that ``re.search(pattern, ...)`` accepts (literals, classes, repeats, groups, |)."""
    try:
        parsed = _regex_parser.parse(pattern)
    except (re.error, OverflowError, RecursionError) as exc:
        raise BadRequest(f"Not a valid regular expression {pattern!r}: {exc}.",
                         param=_field()) from None
    return "".join(_emit(parsed, rng, {}))


def _emit(items: Any, rng: random.Random, groups: dict[int, str]) -> list[str]:
    out: list[str] = []
    for op, value in items:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(value))
        elif name == "NOT_LITERAL":
            out.append("a" if chr(value) != "a" else "b")
        elif name == "ANY":
            out.append(rng.choice("abcdefghijklmnopqrstuvwxyz"))
        elif name == "IN":
            out.append(_one_of(value, rng))
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, sub = value
            low = min(low, MAX_ITEMS)
            high = min(high, low + 3)
            for _ in range(rng.randint(low, high)):
                _spend()
                out.extend(_emit(sub, rng, groups))
        elif name == "SUBPATTERN":
            group, sub = value[0], value[-1]
            text = "".join(_emit(sub, rng, groups))
            if group is not None:
                groups[group] = text
            out.append(text)
        elif name == "BRANCH":
            out.extend(_emit(rng.choice(value[1]), rng, groups))
        elif name == "GROUPREF":
            out.append(groups.get(value, ""))
        elif name == "CATEGORY":
            out.append(rng.choice(_CATEGORIES.get(str(value), "a")))
        # AT (anchors), ASSERT and ASSERT_NOT emit nothing
    return out


def _one_of(items: Any, rng: random.Random) -> str:
    if items and str(items[0][0]) == "NEGATE":
        excluded = re.compile("[" + "".join(_class_text(items[1:])) + "]")
        return next((c for c in "abcdefghijklmnopqrstuvwxyz0123456789_-" if not excluded.fullmatch(c)), "~")
    op, value = rng.choice(list(items))
    name = str(op)
    if name == "LITERAL":
        return chr(value)
    if name == "RANGE":
        return chr(rng.randint(value[0], value[1]))
    if name == "CATEGORY":
        return rng.choice(_CATEGORIES.get(str(value), "a"))
    return "a"


def _class_text(items: Any) -> list[str]:
    parts = []
    for op, value in items:
        name = str(op)
        if name == "LITERAL":
            parts.append(re.escape(chr(value)))
        elif name == "RANGE":
            parts.append(re.escape(chr(value[0])) + "-" + re.escape(chr(value[1])))
        elif name == "CATEGORY":
            parts.append({"CATEGORY_DIGIT": r"\d", "CATEGORY_WORD": r"\w", "CATEGORY_SPACE": r"\s",
                          "CATEGORY_NOT_DIGIT": r"\D", "CATEGORY_NOT_WORD": r"\W",
                          "CATEGORY_NOT_SPACE": r"\S"}.get(str(value), ""))
    return parts
