"""A string matching a regex, drawn from a seeded ``random``.

``regex_instance`` walks the parsed pattern (literals, classes, repeats, groups, ``|``); repeats
are paid from the output's budget (``budget``), and a refused pattern names the request field
being followed.
"""

from __future__ import annotations

import random
import re
import sys
from typing import Any

from ..errors import BadRequest
from .budget import MAX_ITEMS, field, spend

if sys.version_info >= (3, 11):
    from re import _parser as _regex_parser
else:  # pragma: no cover - Python 3.10
    import sre_parse as _regex_parser

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
                         param=field()) from None
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
                spend()
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
