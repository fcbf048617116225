"""Tool calls and structured output from the generator (no fixture matched).

Filled in by the fixtures issue: with ``tools`` and a forced ``tool_choice`` the
answer is a tool call; with ``response_format`` a JSON document.
"""

from __future__ import annotations

from typing import Any

from .answer import Choice
from .generator import Limits


def chat_choice(index: int, key: bytes, body: dict[str, Any], limits: Limits) -> Choice | None:
    """A structured choice when the request asks for one, else None (plain prose)."""
    return None
