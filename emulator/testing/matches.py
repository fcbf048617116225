"""The ``match`` part of a rule's fixture, from the keyword conditions of ``on_chat`` and the others.

``build_match(operation, contains=..., model=..., ...)`` gives the dict the fixture model takes
(docs/fixtures.md); a keyword that is no condition is a TypeError naming the closest one.
"""

from __future__ import annotations

import difflib
import inspect
import re
from collections.abc import Mapping
from typing import Any


def text_matcher(value: Any, argument: str) -> Any:
    """A text condition as the fixture model writes it: "x" (equals), {contains|regex|equals: "x"}."""
    if isinstance(value, re.Pattern):
        return {"regex": value.pattern}
    if isinstance(value, str):
        return value
    if (
        isinstance(value, Mapping)
        and len(value) == 1
        and next(iter(value)) in ("equals", "contains", "regex")
    ):
        return dict(value)
    raise TypeError(
        f"{argument}= takes a string (equals), a compiled regex, or {{'equals'|'contains'|'regex': "
        f"text}}, not {value!r}"
    )


def build_match(operation: str | None = None, **conditions: Any) -> dict[str, Any]:
    """The ``match`` part of a fixture (see ``_match``); a condition of another name is a TypeError that
    lists the valid ones and names the closest (``contain=`` -> did you mean ``contains``?)."""
    unknown = [name for name in conditions if name not in MATCH_CONDITIONS]
    if unknown:
        raise UnknownCondition(unknown[0])
    return _match(operation, **conditions)


class UnknownCondition(TypeError):
    """A keyword no rule condition has (a TypeError, as Python's own for a wrong keyword)."""

    def __init__(self, name: str):
        valid = [*MATCH_CONDITIONS, *RULE_OPTIONS]
        close = difflib.get_close_matches(name, valid, n=1, cutoff=0.5)
        hint = f"did you mean {close[0]}=? " if close else ""
        super().__init__(f"unknown condition {name}=: {hint}The conditions are "
                         f"{', '.join(MATCH_CONDITIONS)}; a rule also takes {', '.join(RULE_OPTIONS)}.")


def _match(
    operation: str | None = None,
    *,
    contains: str | None = None,
    regex: str | re.Pattern[str] | None = None,
    last_user_message: Any = None,
    model: Any = None,
    system: Any = None,
    any_message: Any = None,
    tool_result: bool | None = None,
    tool_call_id: str | None = None,
    has_tools: bool | None = None,
    headers: Mapping[str, Any] | None = None,
    body: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``match`` part of a fixture. ``contains``/``regex``/``last_user_message`` all test the last
    user message (the prompt or input for completions and embeddings), so only one may be given.
    ``body`` keys are JSON paths; a plain key ``temperature`` means ``$.temperature``."""
    on_last = {name: value for name, value in (("contains", contains), ("regex", regex),
                                               ("last_user_message", last_user_message)) if value is not None}
    if len(on_last) > 1:
        raise TypeError(f"give only one of contains=, regex= and last_user_message= (they all test the last "
                        f"user message), not {', '.join(on_last)}")
    match: dict[str, Any] = {}
    if operation is not None:
        match["operation"] = operation
    if contains is not None:
        if not isinstance(contains, str):
            raise TypeError(f"contains= takes a string, not {contains!r}")
        match["last_user_message"] = {"contains": contains}
    if regex is not None:
        match["last_user_message"] = {"regex": regex.pattern if isinstance(regex, re.Pattern) else regex}
    if last_user_message is not None:
        match["last_user_message"] = text_matcher(last_user_message, "last_user_message")
    for key, value, argument in (("model", model, "model"), ("system_message", system, "system"),
                                 ("any_message", any_message, "any_message")):
        if value is not None:
            match[key] = text_matcher(value, argument)
    for key, value in (("tool_result", tool_result), ("has_tools", has_tools)):
        if value is not None:
            match[key] = bool(value)
    if tool_call_id is not None:
        match["tool_call_id"] = tool_call_id
        match.setdefault("tool_result", True)
    if headers:
        match["headers"] = {
            name: text_matcher(value, f"headers[{name!r}]") for name, value in headers.items()
        }
    if body:
        match["body"] = {(key if key.startswith("$") else "$." + key): value for key, value in body.items()}
    return match


MATCH_CONDITIONS = tuple(name for name in inspect.signature(_match).parameters if name != "operation")
RULE_OPTIONS = ("name", "times", "priority", "version", "turn_index", "agent_id", "force_tool")
