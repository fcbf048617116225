"""Tool calls and structured output from the generator (no fixture matched).

* ``tools`` (or legacy ``functions``) with ``tool_choice`` ``"required"`` or a named function:
  the answer is one call of that function, whose arguments are a JSON instance of its
  ``parameters`` schema. ``"required"`` picks the tool the last user message mentions most
  (else one chosen by the request's seed). A named choice finishes with ``stop`` (as vLLM
  does), the others with ``tool_calls``. A legacy ``functions`` request (no ``tools``) is
  answered in its own shape: ``message.function_call`` and ``finish_reason: "function_call"``.
* ``"auto"`` (the default when tools are given) follows one rule: the answer is a tool call
  when the last message is the user's and shares a word (3+ letters, not a stop word) with a
  tool's name or description; the tool sharing the most words is called (ties: the first
  listed). After a tool result, or when nothing is shared, the answer is prose. So a scripted
  agent loop always ends.
* ``response_format`` ``json_object`` / ``json_schema``, and vLLM's ``guided_json``,
  ``guided_choice`` and ``guided_regex``: content that is valid JSON for the schema (one of
  the choices; a string matching the regex).

Everything is drawn from ``generator.rng_for(key)``: the same request gives the same
arguments, byte for byte. ``instance`` knows types, properties, required, enum, const,
$ref, allOf/anyOf/oneOf, arrays (items, prefixItems, minItems, maxItems, uniqueItems),
string lengths, formats and patterns, and number bounds.

Every output has a budget (``Budget``: --max-structured-values, --max-structured-depth), shared by
the ``n`` choices of a request: a schema that asks for more (``minItems: 256`` nested three deep is
16.7 million values) is a 400 naming the limit and its flag as soon as the budget runs out, never a
server busy for half a minute.
"""

from __future__ import annotations

import contextvars
import json
import random
import re
import uuid
from dataclasses import dataclass
from typing import Any

from ..answer import Choice, ToolCall
from ..errors import BadRequest
from .text import Limits, rng_for, sentences
from ..tokenizer import message_text, tokenize

try:  # Python 3.11+
    from re import _parser as _regex_parser  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - Python 3.10
    import sre_parse as _regex_parser  # type: ignore[no-redef]

MAX_DEPTH = 6  # deeper than this, objects get only their required properties and arrays their minItems
MAX_ITEMS = 256  # what minItems, minLength and regex repeats may ask for, at most
CHARS_PER_VALUE = 100  # a long string costs one value per this many characters
_STOP_WORDS = frozenset("the and for with this that from what which your you are was get set use can will "
                        "how its has have into about when where who why not all any one per via does".split())
_WORD = re.compile(r"[a-z0-9]+")


# A request with none of these keys is answered in prose: no need to seed anything for it.
_ASKS_FOR_STRUCTURE = ("tools", "functions", "tool_choice", "function_call", "response_format", "guided_json",
                       "guided_choice", "guided_regex")


@dataclass
class Budget:
    """What the structured output of one request may cost: values drawn (array items, properties,
    regex repeats, and long strings by their length) and depth of nesting."""

    values: int = 10_000
    depth: int = 32
    spent: int = 0

    @classmethod
    def of(cls, settings: Any) -> "Budget":
        return cls(values=settings.max_structured_values, depth=settings.max_structured_depth)

    def spend(self, values: int = 1) -> None:
        self.spent += values
        if self.spent > self.values:
            raise BadRequest(f"The requested structured output needs more than {self.values} values (arrays, "
                             f"properties, long strings or regex repeats); the limit is "
                             f"--max-structured-values {self.values}. Ask for fewer (minItems, minLength) or "
                             f"raise the limit.",
                             param="response_format")

    def enter(self, depth: int) -> None:
        if depth > self.depth:
            raise BadRequest(f"The requested structured output nests deeper than {self.depth} levels (a "
                             f"$ref that requires itself?); the limit is --max-structured-depth "
                             f"{self.depth}.",
                             param="response_format")


# The budget of the output being generated: set by chat_choice, so that every maker can spend it.
_budget: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("structured_budget", default=None)


def _spend(values: int = 1) -> None:
    budget = _budget.get()
    if budget is not None:
        budget.spend(values)


def chat_choice(index: int, key: bytes, body: dict[str, Any], limits: Limits,
                budget: Budget | None = None) -> Choice | None:
    """A structured choice when the request asks for one, else None (plain prose)."""
    if not any(name in body for name in _ASKS_FOR_STRUCTURE):
        return None
    token = _budget.set(budget or Budget())
    try:
        return _chat_choice(index, key, body, limits)
    except (TypeError, AttributeError, ValueError, LookupError, RecursionError, OverflowError) as exc:
        # A schema this generator cannot follow is the client's to fix, never a 500.
        raise BadRequest(f"Cannot generate output for this JSON schema: {type(exc).__name__}: {exc}",
                         param="response_format") from None
    finally:
        _budget.reset(token)


def guided_text(key: bytes, guided: dict[str, Any], budget: Budget | None = None) -> str | None:
    """The text that ``guided_json`` / ``guided_choice`` / ``guided_regex`` ask for, made as chat
    makes it (the same rules, the same budget), or None when ``guided`` asks for none of them."""
    if not any(name in guided for name in ("guided_json", "guided_choice", "guided_regex")):
        return None
    token = _budget.set(budget or Budget())
    try:
        return _structured_text(guided, rng_for(key, "structured"))
    except (TypeError, AttributeError, ValueError, LookupError, RecursionError, OverflowError) as exc:
        raise BadRequest(f"Cannot generate output for this JSON schema: {type(exc).__name__}: {exc}",
                         param="guided_json") from None
    finally:
        _budget.reset(token)


def _chat_choice(index: int, key: bytes, body: dict[str, Any], limits: Limits) -> Choice | None:
    rng = rng_for(key, "structured")
    tool = _tool_to_call(body, rng)
    if tool is not None:
        name, parameters, named = tool
        arguments = json.dumps(instance(parameters, rng), ensure_ascii=False)
        call = ToolCall(id="chatcmpl-tool-" + _hex(rng), name=name, arguments=arguments)
        legacy = not body.get("tools") and bool(body.get("functions"))
        finish = "stop" if named else "function_call" if legacy else "tool_calls"
        return Choice(index=index, pieces=(), finish_reason=finish, tool_calls=(call,), function_call=legacy)
    text = _structured_text(body, rng)
    if text is None:
        return None
    pieces = tokenize(text)
    if len(pieces) > limits.max_tokens:
        return Choice(index=index, pieces=tuple(pieces[:limits.max_tokens]), finish_reason="length")
    return Choice(index=index, pieces=tuple(pieces), finish_reason="stop")


# -- tools -----------------------------------------------------------------------------------------


def _tools(body: dict[str, Any]) -> list[tuple[str, Any, str]]:
    """(name, parameters schema, description) of each tool or legacy function."""
    found = []
    for tool in body.get("tools") or ():
        function = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            found.append((function["name"], function.get("parameters") or {"type": "object"},
                          str(function.get("description") or "")))
    for function in body.get("functions") or ():
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            found.append((function["name"], function.get("parameters") or {"type": "object"},
                          str(function.get("description") or "")))
    return found


def _tool_choice(body: dict[str, Any]) -> Any:
    if "tool_choice" in body and body["tool_choice"] is not None:
        choice = body["tool_choice"]
    else:
        choice = body.get("function_call")
    if isinstance(choice, dict):
        function = choice.get("function") if isinstance(choice.get("function"), dict) else choice
        return {"name": function.get("name")}
    return choice if choice in ("none", "auto", "required") else None


def _tool_to_call(body: dict[str, Any], rng: random.Random) -> tuple[str, Any, bool] | None:
    tools = _tools(body)
    choice = _tool_choice(body)
    if not tools:
        if choice == "required" or isinstance(choice, dict):
            raise BadRequest("When using `tool_choice`, `tools` must be set.", param="tool_choice")
        return None
    if choice == "none":
        return None
    if isinstance(choice, dict):
        for name, parameters, _ in tools:
            if name == choice["name"]:
                return name, parameters, True
        raise BadRequest(f"Tool '{choice['name']}' has not been passed in `tools` "
                         f"(tools: {', '.join(t[0] for t in tools)}).", param="tool_choice")
    messages = [m for m in body.get("messages") or () if isinstance(m, dict)]
    last = messages[-1] if messages else {}
    best = _best_tool(tools, message_text(last.get("content"))) if last.get("role") == "user" else None
    if choice == "required":
        name, parameters, _ = best or tools[rng.randrange(len(tools))]
        return name, parameters, False
    if best is None:  # auto
        return None
    return best[0], best[1], False


def _words(text: str) -> set[str]:
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", text).lower()
    return {w for w in _WORD.findall(spaced) if len(w) >= 3 and w not in _STOP_WORDS}


def _best_tool(tools: list[tuple[str, Any, str]], text: str) -> tuple[str, Any, str] | None:
    asked = _words(text)
    best, best_score = None, 0
    for tool in tools:
        score = len(asked & _words(tool[0].replace("_", " ") + " " + tool[2]))
        if score > best_score:
            best, best_score = tool, score
    return best


# -- response_format and guided decoding ------------------------------------------------------------


def _structured_text(body: dict[str, Any], rng: random.Random) -> str | None:
    choices = body.get("guided_choice")
    if isinstance(choices, list) and choices:
        return str(rng.choice(choices))
    pattern = body.get("guided_regex")
    if isinstance(pattern, str):
        return regex_instance(pattern, rng)
    schema, param = body.get("guided_json"), "guided_json"
    if schema is None:
        schema, param = _response_format_schema(body.get("response_format")), "response_format"
    elif isinstance(schema, str):
        try:
            schema = json.loads(schema)
        except ValueError:
            raise BadRequest("guided_json must be a JSON schema (an object, or its JSON text).",
                             param="guided_json") from None
    if schema is None:
        return None
    if not isinstance(schema, (dict, bool)):
        raise BadRequest(f"The JSON schema must be an object, got {json.dumps(schema)[:60]}.", param=param)
    return json.dumps(instance(schema, rng), ensure_ascii=False)


def _response_format_schema(response_format: Any) -> Any:
    if not isinstance(response_format, dict):
        return None
    kind = response_format.get("type")
    if kind == "json_object":
        return {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        schema = spec.get("schema", spec.get("json_schema")) if isinstance(spec, dict) else None
        if schema is None:
            raise BadRequest("response_format json_schema needs json_schema.schema.", param="response_format")
        return schema
    return None


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
                         param="response_format")
    node = root
    for part in filter(None, ref[1:].split("/")):
        part = part.replace("~1", "/").replace("~0", "~")
        node = node.get(part) if isinstance(node, dict) else None
    if node is None:
        raise BadRequest(f"The $ref {ref!r} points to nothing in the schema.", param="response_format")
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


def _hex(rng: random.Random) -> str:
    return "%032x" % rng.getrandbits(128)


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
                         param="guided_regex") from None
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
