"""A request against a fixture's conditions: what the conditions read, how they compare, and why not.

``compile_conditions`` turns a fixture's ``match`` into a list of checks, each a function
``RequestView -> None | reason`` (the reason feeds the near-miss report of --strict). The
request's texts (last user message, system message ...) are extracted once per request, when
first needed (``RequestView``). ``Prefilter`` makes 1,000 fixtures cheap: one regex scan of
the raw JSON body finds which fixtures' literal texts occur in it at all.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from .tokenizer import message_text

ANSWERING = ("chat", "completions", "embeddings")  # the aliases a fixture without `operation` applies to
_TEMPLATE = re.compile(r"\{\{\s*(.*?)\s*\}\}")
_PATH_STEP = re.compile(r"\.([A-Za-z_][\w-]*)|\[(-?\d+)\]|\[(['\"])(.*?)\3\]")
_ABSENT = object()


class Problem(Exception):
    """What is wrong with a fixture, and where in it (a dotted key path)."""

    def __init__(self, at: str, message: str):
        self.at, self.message = at, message


# Operations a fixture can name


def alias_of(path: str) -> str:
    """/api/v2/chat/completions -> chat; /api/v3/embeddings -> embeddings; /api/v2/files/{id} ->
    files/{id}."""
    rest = re.sub(r"^/api/v\d+/", "", path).strip("/")
    return "chat" if rest == "chat/completions" else rest


class OperationIndex:
    """Operation names a fixture may use (path, operationId, short alias) -> operationIds."""

    def __init__(self, operations: Iterable[Any]):
        self.by_name: dict[str, set[str]] = {}
        for op in operations:
            for name in (op.path, op.operation_id, alias_of(op.path)):
                self.by_name.setdefault(name, set()).add(op.operation_id)
        self.answering = frozenset(i for alias in ANSWERING for i in self.by_name.get(alias, ()))

    def resolve(self, name: str) -> frozenset[str] | None:
        found = self.by_name.get(name) or self.by_name.get(name.rstrip("/"))
        return frozenset(found) if found else None

    def known(self) -> str:
        aliases = sorted(n for n in self.by_name if not n.startswith("/") and "_" not in n)
        return ", ".join(aliases) + " (or a path such as /api/v2/chat/completions, or an operationId)"


# ---------------------------------------------------------------------------------------------
# The request as the conditions see it


class RequestView:
    """The texts of one request that conditions look at, each extracted once, when first needed."""

    def __init__(self, call: Any):
        self.call = call
        self.operation_id: str = call.operation.operation_id
        body = call.body
        self.body: dict[str, Any] = body if isinstance(body, dict) else {}

    @cached_property
    def messages(self) -> list[dict[str, Any]]:
        messages = self.body.get("messages")
        return [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []

    @cached_property
    def inputs(self) -> list[str]:
        """The prompt (completions) or input (embeddings) texts."""
        for key in ("prompt", "input"):
            value = self.body.get(key)
            if isinstance(value, str):
                return [value]
            if isinstance(value, list):
                return [v for v in value if isinstance(v, str)]
        return []

    @cached_property
    def last_user_message(self) -> str | None:
        if self.messages:
            users = [m for m in self.messages if m.get("role") == "user"]
            return message_text(users[-1].get("content")) if users else None
        return self.inputs[-1] if self.inputs else None

    @cached_property
    def all_messages(self) -> list[str]:
        return [message_text(m.get("content")) for m in self.messages] or self.inputs

    @cached_property
    def system_messages(self) -> list[str]:
        return [message_text(m.get("content")) for m in self.messages
                if m.get("role") in ("system", "developer")]

    @property
    def last_message(self) -> dict[str, Any]:
        return self.messages[-1] if self.messages else {}

    @property
    def model(self) -> Any:
        return self.body.get("model")


# ---------------------------------------------------------------------------------------------
# Conditions


def show(value: Any, limit: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = text if len(text) <= limit else text[:limit - 3] + "..."
    return repr(text) if isinstance(value, str) else text


@dataclass(frozen=True)
class TextMatcher:
    kind: str  # equals | contains | regex
    expected: str
    pattern: re.Pattern | None = None

    def test(self, text: Any) -> bool:
        if self.kind == "equals":
            return json_equal(text, self.expected)
        if not isinstance(text, str):
            return False
        if self.kind == "contains":
            return self.expected in text
        assert self.pattern is not None
        return self.pattern.search(text) is not None

    def __str__(self) -> str:
        verb = {"equals": "equal", "contains": "contain", "regex": "match regex"}[self.kind]
        return f"{verb} {show(self.expected)}"


def json_equal(a: Any, b: Any) -> bool:
    """Equality as JSON sees it: key order never matters, but true is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b


Check = Callable[[RequestView], "str | None"]  # None when the condition holds, else why not


def text_condition(label: str, matcher: TextMatcher, get: Callable[[RequestView], Any],
                   many: bool = False) -> Check:
    def check(view: RequestView) -> str | None:
        value = get(view)
        if many:
            if any(matcher.test(v) for v in value):
                return None
            return f"no {label} does {matcher} (saw {', '.join(show(v, 30) for v in value[:3]) or 'none'})"
        if value is None:
            return f"{label} is absent (expected to {matcher})"
        return None if matcher.test(value) else f"{label} {show(value)} does not {matcher}"

    return check


def _header_getter(name: str) -> Callable[[RequestView], Any]:
    return lambda view: view.call.headers.get(name)


def compile_matcher(spec: Any, at: str) -> TextMatcher:
    if isinstance(spec, str):
        return TextMatcher("equals", spec)
    ((kind, expected),) = spec.items()
    if kind != "regex":
        return TextMatcher(kind, expected)
    try:
        return TextMatcher(kind, expected, re.compile(expected))
    except re.error as exc:
        raise Problem(at + ".regex", f"not a valid regular expression {expected!r}: {exc}") from None


def parse_path(text: str, at: str) -> tuple[Any, ...]:
    """``$.messages[-1].content`` -> ("messages", -1, "content")."""
    rest = text[1:] if text.startswith("$") else "." + text
    steps: list[Any] = []
    while rest:
        step = _PATH_STEP.match(rest)
        if step is None:
            raise Problem(at, f"cannot read the JSON path {text!r} at {rest!r} "
                               "(use $.a.b, $.items[0], $.items[-1], $['odd key'])")
        name, index, _, quoted = step.groups()
        steps.append(name if name is not None else int(index) if index is not None else quoted)
        rest = rest[step.end():]
    return tuple(steps)


def lookup(value: Any, steps: Iterable[Any]) -> Any:
    """The value at a parsed path, or _ABSENT. A digit step indexes a list (templates say body.items.0)."""
    for step in steps:
        if isinstance(step, str) and isinstance(value, list) and step.lstrip("-").isdigit():
            step = int(step)
        if isinstance(step, int) and isinstance(value, list) and -len(value) <= step < len(value):
            value = value[step]
        elif isinstance(step, str) and isinstance(value, dict) and step in value:
            value = value[step]
        else:
            return _ABSENT
    return value


def body_condition(path_text: str, expected: Any, at: str) -> Check:
    steps = parse_path(path_text, at)
    if isinstance(expected, dict) and len(expected) == 1 and set(expected) <= {"equals", "contains", "regex"}:
        kind, value = next(iter(expected.items()))
        if kind != "equals" and not isinstance(value, str):
            raise Problem(f"{at}.{kind}", f"expected a string, got {show(value)}")
        matcher = compile_matcher(expected, at)
    else:
        matcher = TextMatcher("equals", expected)

    def check(view: RequestView) -> str | None:
        value = lookup(view.body, steps)
        if value is _ABSENT:
            return f"body {path_text} is absent (expected to {matcher})"
        return None if matcher.test(value) else f"body {path_text} is {show(value)}, which does not {matcher}"

    return check


def compile_conditions(match: dict[str, Any], operations: OperationIndex
                       ) -> tuple[frozenset[str] | None, list[Check], tuple[bytes, ...]]:
    """-> (the operationIds it may answer (None: any model call), the checks, its needles)."""
    checks: list[Check] = []
    operation_ids = None
    if "operation" in match:
        operation_ids = operations.resolve(match["operation"])
        if operation_ids is None:
            raise Problem("match.operation",
                          f"unknown operation {match['operation']!r}; known: {operations.known()}")
    if "model" in match:
        matcher = compile_matcher(match["model"], "match.model")
        checks.append(text_condition("model", matcher, lambda v: v.model))
    if "tool_result" in match:
        wanted = match["tool_result"]

        def tool_result(view: RequestView) -> str | None:
            role = view.last_message.get("role")
            if (role in ("tool", "function")) == wanted:
                return None
            return (f"the last message is from {role!r}, not a tool result" if wanted
                    else "the last message is a tool result")

        checks.append(tool_result)
    if "tool_call_id" in match:
        call_id = match["tool_call_id"]

        def tool_call_id(view: RequestView) -> str | None:
            last = view.last_message
            if last.get("role") != "tool":
                return f"the last message is from {last.get('role')!r}, not a tool result for {call_id!r}"
            seen = last.get("tool_call_id")
            return None if seen == call_id else f"tool_call_id {show(seen)} is not {call_id!r}"

        checks.append(tool_call_id)
    if "has_tools" in match:
        wanted_tools = match["has_tools"]

        def has_tools(view: RequestView) -> str | None:
            present = bool(view.body.get("tools") or view.body.get("functions"))
            if present == wanted_tools:
                return None
            return "the request has no tools" if wanted_tools else "the request has tools"

        checks.append(has_tools)
    for name, spec in (match.get("headers") or {}).items():
        matcher = compile_matcher(spec, f"match.headers.{name}")
        checks.append(text_condition(f"header {name}", matcher, _header_getter(name.lower())))
    if "system_message" in match:
        matcher = compile_matcher(match["system_message"], "match.system_message")
        checks.append(text_condition("system message", matcher, lambda v: v.system_messages, many=True))
    if "last_user_message" in match:
        matcher = compile_matcher(match["last_user_message"], "match.last_user_message")
        checks.append(text_condition("last user message", matcher, lambda v: v.last_user_message))
    if "any_message" in match:
        matcher = compile_matcher(match["any_message"], "match.any_message")
        checks.append(text_condition("message", matcher, lambda v: v.all_messages, many=True))
    for path_text, expected in (match.get("body") or {}).items():
        checks.append(body_condition(path_text, expected, f"match.body.{path_text}"))
    return operation_ids, checks, needles_of(match)


# ---------------------------------------------------------------------------------------------
# Templates: {{last_user_message}}, {{model}}, {{body.a.b}}


def check_templates(text: str, at: str) -> None:
    for variable in _TEMPLATE.findall(text):
        if variable in ("last_user_message", "model") or re.fullmatch(r"body(\.[\w-]+)+", variable):
            continue
        raise Problem(at, f"unknown template variable {{{{{variable}}}}}; use {{{{last_user_message}}}}, "
                           "{{model}} or {{body.<dotted.path>}}")


def render_template(text: str, view: RequestView) -> str:
    if "{{" not in text:
        return text

    def value(match: re.Match) -> str:
        name = match.group(1)
        if name == "last_user_message":
            found: Any = view.last_user_message or ""
        elif name == "model":
            found = view.model or ""
        else:
            found = lookup(view.body, name.split(".")[1:])
            found = "" if found is _ABSENT or found is None else found
        return found if isinstance(found, str) else json.dumps(found, ensure_ascii=False)

    return _TEMPLATE.sub(value, text)




# -- the prefilter ---------------------------------------------------------------------------------

# Characters every JSON encoder writes as themselves: not quotes, backslash, "/", the "<>&'" that
# some encoders escape for HTML, control or non-ASCII characters.
_VERBATIM = re.compile(r"[A-Za-z0-9 !#$%()*+,\-.:;=?@\[\]^_`{|}~]+")
NEEDLE_MAX = 40


def _literal(spec: Any) -> Any:
    """The text of an equals/contains matcher (a regex has no literal to offer)."""
    return spec.get("equals", spec.get("contains")) if isinstance(spec, dict) else None


def needles_of(match: dict[str, Any]) -> tuple[bytes, ...]:
    """Texts that a request's raw JSON body must all contain for ``match`` to hold (maybe none)."""
    literals = [match.get("tool_call_id")]
    for key in ("model", "last_user_message", "any_message", "system_message"):
        spec = match.get(key)
        literals.append(spec if isinstance(spec, str) else _literal(spec))
    for spec in (match.get("body") or {}).values():
        if isinstance(spec, str):
            literals.append(spec)
        elif isinstance(spec, dict) and len(spec) == 1:
            literals.append(_literal(spec))
    runs = {run.strip()[:NEEDLE_MAX] for text in literals if isinstance(text, str)
            for run in _VERBATIM.findall(text)}
    return tuple(sorted(run.encode("ascii") for run in runs if len(run) >= 3))


class Prefilter:
    """Which fixtures of a list can match a given JSON body at all. Each fixture's needle is looked
    for in one scan of a regex shaped as a trie of all the needles, so 1,000 fixtures cost one C-level
    pass over the body instead of 1,000 Python checks. The fixtures it returns keep their order."""

    def __init__(self, fixtures: list[Any]):
        self.fixtures = fixtures
        self.open = [i for i, f in enumerate(fixtures) if not f.needles]
        self.by_needle: dict[bytes, list[int]] = {}
        common: dict[bytes, int] = {}
        for fixture in fixtures:
            for needle in fixture.needles:
                common[needle] = common.get(needle, 0) + 1
        for index, fixture in enumerate(fixtures):
            if fixture.needles:  # one needle per fixture is enough: the rarest, then the longest
                needle = min(fixture.needles, key=lambda n: (common[n], -len(n)))
                self.by_needle.setdefault(needle, []).append(index)
        # At each position the scan finds the longest needle; shorter ones starting there are its prefixes.
        self.prefixes = {n: [n[:k] for k in range(1, len(n)) if n[:k] in self.by_needle]
                         for n in self.by_needle}
        self.scan = re.compile(b"(?=(" + _trie(list(self.by_needle)) + b"))") if self.by_needle else None

    def candidates(self, raw: bytes) -> list[Any]:
        if self.scan is None:
            return self.fixtures
        positions = list(self.open)
        seen: set[bytes] = set()
        for found in self.scan.finditer(raw):
            for needle in (found.group(1), *self.prefixes[found.group(1)]):
                if needle not in seen:
                    seen.add(needle)
                    positions.extend(self.by_needle[needle])
        positions.sort()
        return [self.fixtures[i] for i in positions]


def _trie(words: list[bytes]) -> bytes:
    root: dict = {}
    for word in words:
        node = root
        for byte in word:
            node = node.setdefault(byte, {})
        node[None] = True

    def pattern(node: dict) -> bytes:
        branches = [re.escape(bytes([byte])) + pattern(child) for byte, child in sorted(
            (k, v) for k, v in node.items() if k is not None)]
        if not branches:
            return b""
        body = branches[0] if len(branches) == 1 else b"(?:" + b"|".join(branches) + b")"
        return b"(?:" + body + b")?" if None in node else body  # greedy: the longest needle first

    return pattern(root)
