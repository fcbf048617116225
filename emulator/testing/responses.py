"""The response dicts a rule's verbs build: tool calls, error types, SSE event counts, options.

``rules.Rule`` calls these; each checks its arguments and says what it accepts.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any


def error_type(status: int) -> str:
    """vLLM's name for an error status: 400 -> BadRequestError, 429 -> TooManyRequestsError."""
    try:
        words = HTTPStatus(status).phrase.replace("-", " ").split()
    except ValueError:
        return "Error"
    name = "".join(word[:1].upper() + word[1:] for word in words)
    return name if name.endswith("Error") else name + "Error"


def seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def tool_call(name: str, arguments: Mapping[str, Any] | str | None, id: str | None) -> dict[str, Any]:
    if not isinstance(name, str) or not name:
        raise TypeError(f"a tool call needs the tool's name as a non-empty string, not {name!r}")
    if arguments is not None and not isinstance(arguments, (str, Mapping)):
        raise TypeError(
            f"tool call {name!r}: arguments must be a mapping or a JSON string, not {arguments!r}"
        )
    call: dict[str, Any] = {"name": name, "arguments": dict(arguments) if isinstance(arguments, Mapping)
                            else (arguments if arguments is not None else {})}
    if id is not None:
        call["id"] = id
    return call


def event_count(events: Any, method: str) -> int:
    if not isinstance(events, int) or isinstance(events, bool) or events < 0:
        raise ValueError(f"{method}() takes a number of SSE events >= 0, not {events!r}")
    return events


OPTIONS = (
    "usage",
    "headers",
    "delay_ms",
    "ttft_ms",
    "itl_ms",
    "finish_reason",
    "chunk_delays_ms",
    "duration_ms",
)


def with_options(response: dict[str, Any], options: Mapping[str, Any], method: str) -> dict[str, Any]:
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise TypeError(f"{method}() got unexpected option(s) {', '.join(unknown)}; "
                        f"it accepts {', '.join(OPTIONS)}")
    response.update(
        {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in options.items() if v is not None}
    )
    return response
