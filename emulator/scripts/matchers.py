"""The comparisons a fixture's conditions make: text matchers, JSON equality, JSON paths.

A text matcher is ``equals``, ``contains`` or ``regex``; a regex runs with the ``regex`` module
within the request's budget (``regex_budget.RegexBudget``). A JSON path (``$.messages[-1].content``)
is parsed once, when the fixture is loaded, and looked up per request. ``Problem`` is what is wrong
with a fixture and where in it: loading turns it into a ``FixtureError`` naming the line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import regex

from .regex_budget import DEFAULT_REGEX_BUDGET_MS, RegexBudget

__all__ = ["ABSENT", "Problem", "TextMatcher", "compile_matcher", "json_equal", "lookup", "parse_path",
           "show"]

_PATH_STEP = re.compile(r"\.([A-Za-z_][\w-]*)|\[(-?\d+)\]|\[(['\"])(.*?)\3\]")
ABSENT = object()


class Problem(Exception):
    """What is wrong with a fixture, and where in it (a dotted key path)."""

    def __init__(self, at: str, message: str):
        self.at, self.message = at, message


def show(value: Any, limit: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = text if len(text) <= limit else text[:limit - 3] + "..."
    return repr(text) if isinstance(value, str) else text


# A fixture's regex runs on request text with the `regex` module, which has a time limit: a pattern
# that backtracks (`^(a|aa)+$` on a long line) stops when the request's budget is spent (RegexBudget)
# instead of holding a worker for seconds. (`^(a+)+$` needs no limit: the module does not backtrack on it.)


@dataclass(frozen=True)
class TextMatcher:
    kind: str  # equals | contains | regex
    expected: str
    pattern: Any = None  # a regex.Pattern

    def test(self, text: Any, budget: RegexBudget | None = None) -> bool:
        if self.kind == "equals":
            return json_equal(text, self.expected)
        if not isinstance(text, str):
            return False
        if self.kind == "contains":
            return self.expected in text
        assert self.pattern is not None
        return (budget or RegexBudget(DEFAULT_REGEX_BUDGET_MS)).search(self.pattern, text)

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


def compile_matcher(spec: Any, at: str) -> TextMatcher:
    if isinstance(spec, str):
        return TextMatcher("equals", spec)
    ((kind, expected),) = spec.items()
    if kind != "regex":
        return TextMatcher(kind, expected)
    try:
        return TextMatcher(kind, expected, regex.compile(expected))
    except (regex.error, re.error) as exc:
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
    """The value at a parsed path, or ABSENT. A digit step indexes a list (templates say body.items.0)."""
    for step in steps:
        if isinstance(step, str) and isinstance(value, list) and step.lstrip("-").isdigit():
            step = int(step)
        if isinstance(step, int) and isinstance(value, list) and -len(value) <= step < len(value):
            value = value[step]
        elif isinstance(step, str) and isinstance(value, dict) and step in value:
            value = value[step]
        else:
            return ABSENT
    return value

