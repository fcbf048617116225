"""Templates in a fixture's answer: {{last_user_message}}, {{model}}, {{body.a.b}}."""

from __future__ import annotations

import json
import re
from typing import Any

from .matchers import ABSENT, Problem, lookup
from .request_view import RequestView

_TEMPLATE = re.compile(r"\{\{\s*(.*?)\s*\}\}")


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
            found = "" if found is ABSENT or found is None else found
        return found if isinstance(found, str) else json.dumps(found, ensure_ascii=False)

    return _TEMPLATE.sub(value, text)
