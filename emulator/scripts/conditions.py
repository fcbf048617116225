"""A fixture's ``match`` -> its conditions, each a check of a request and, when it fails, why.

``compile_conditions`` turns a fixture's ``match`` into a list of checks, each a function
``RequestView -> None | reason`` (the reason feeds the near-miss report of --strict). The
request's texts (last user message, system message ...) are extracted once per request, when
first needed (``request_view.RequestView``). ``prefilter.Prefilter`` makes 1,000 fixtures cheap: one regex
scan of the raw JSON body finds which fixtures' literal texts occur in it at all. The comparisons
the checks make: ``matchers``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..operations import OperationNames
from ..upstream.exchange import RecordedRequest
from .matchers import ABSENT, Problem, TextMatcher, compile_matcher, lookup, parse_path, show
from .prefilter import needles_of
from .request_view import RequestView

__all__ = ["Check", "Checks", "compile_conditions"]


Check = Callable[[RequestView], "str | None"]  # None when the condition holds, else why not


class Checks(list[Check]):
    """A fixture's checks, and whether one of them runs a regex (then it is checked off the loop)."""

    regex = False


def text_condition(label: str, matcher: TextMatcher, get: Callable[[RequestView], Any],
                   many: bool = False) -> Check:
    def check(view: RequestView) -> str | None:
        value = get(view)
        if many:
            if any(matcher.test(v, view.budget) for v in value):
                return None
            return f"no {label} does {matcher} (saw {', '.join(show(v, 30) for v in value[:3]) or 'none'})"
        if value is None:
            return f"{label} is absent (expected to {matcher})"
        return None if matcher.test(value, view.budget) else f"{label} {show(value)} does not {matcher}"

    return check


def _header_getter(name: str) -> Callable[[RequestView], Any]:
    return lambda view: view.call.headers.get(name)


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
        if value is ABSENT:
            return f"body {path_text} is absent (expected to {matcher})"
        return (None if matcher.test(value, view.budget)
                else f"body {path_text} is {show(value)}, which does not {matcher}")

    return check


def compile_conditions(match: dict[str, Any], operations: OperationNames
                       ) -> tuple[frozenset[str] | None, list[Check], tuple[bytes, ...]]:
    """-> (the operationIds it may answer (None: any model call), the checks, its needles)."""
    checks = Checks()
    checks.regex = _has_regex(match)
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
    checks.extend(_turn_conditions(match))
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
    if "request" in match:  # a recorded exchange: the request as it was sent
        checks.append(recorded_request_condition(RecordedRequest(match["request"])))
    return operation_ids, checks, needles_of(match)


def recorded_request_condition(recorded: RecordedRequest) -> Check:
    def check(view: RequestView) -> str | None:
        call = view.call
        files = {name: upload.filename for name, upload in call.uploads.items()}
        return recorded.check(call.request.method, call.request.url.path, call.request.url.query,
                              call.body, files)

    return check


def _has_regex(value: Any) -> bool:
    if isinstance(value, dict):
        return "regex" in value or any(_has_regex(v) for v in value.values())
    return False


def _turn_conditions(match: dict[str, Any]) -> list[Check]:
    """A v3 turn's own conditions: its index in the thread (0: the first), its agent, its forced tool."""
    checks: list[Check] = []

    def context(view: RequestView) -> dict[str, Any]:
        return view.call.turn_context or {}

    for key, label in (("turn_index", "turn index"), ("agent_id", "agent id")):
        if key in match:
            wanted = match[key]
            field = {"turn_index": "index", "agent_id": "agent_id"}[key]

            def check(view: RequestView, wanted: Any = wanted, field: str = field,
                      label: str = label) -> str | None:
                seen = context(view).get(field)
                return None if seen == wanted else f"{label} is {show(seen)}, not {wanted}"

            checks.append(check)
    if "force_tool" in match:
        matcher = compile_matcher(match["force_tool"], "match.force_tool")
        checks.append(text_condition("forced tool", matcher, lambda v: context(v).get("force_tool")))
    return checks
