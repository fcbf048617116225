"""What a completion answers, before it is rendered as JSON or as a stream.

Both sources of answers produce an ``Answer``: the deterministic generator and the
scripted fixtures. The renderers (``render`` for JSON bodies, ``streaming`` for
SSE) know nothing of where it came from, which is what lets a fixture script a
stream, a tool call or a fault exactly as the generator would produce one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .tokenizer import count


@dataclass(frozen=True)
class TokenLogprob:
    token: str
    logprob: float | None  # None: the first echoed prompt token
    top: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text, as the model writes it


@dataclass(frozen=True)
class Choice:
    index: int
    pieces: tuple[str, ...]  # the text, token by token (one SSE delta each)
    finish_reason: str | None = "stop"
    stop_reason: str | int | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    # The call answers a legacy ``functions`` request: rendered as ``function_call`` (one call).
    function_call: bool = False
    logprobs: tuple[TokenLogprob, ...] | None = None  # one per piece, when asked for
    echo: tuple[str, ...] = ()  # prompt pieces echoed before the text (completions)
    echo_logprobs: tuple[TokenLogprob, ...] | None = None

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    @property
    def completion_tokens(self) -> int:
        return len(self.pieces) + sum(_tool_call_tokens(call) for call in self.tool_calls)


def _tool_call_tokens(call: ToolCall) -> int:
    return count(call.name) + count(call.arguments)


@dataclass(frozen=True)
class Timing:
    ttft_ms: float = 0.0
    itl_ms: float = 0.0
    # Explicit delay before each chunk event (scripted streams); overrides ttft/itl when set.
    chunk_delays_ms: tuple[float, ...] | None = None
    delay_ms: float = 0.0  # before anything is sent, streamed or not


@dataclass(frozen=True)
class StreamFault:
    """How a stream goes wrong. Chunk counts are SSE events sent (the role chunk included)."""

    truncate_after: int | None = None  # end the body cleanly after N events: no finish, no [DONE]
    error_after: int | None = None  # after N events send data: {"error": ...} then [DONE]
    error: dict[str, Any] | None = None
    drop_after: int | None = None  # close the connection abruptly after N events


@dataclass(frozen=True)
class Answer:
    choices: tuple[Choice, ...]
    prompt_tokens: int
    timing: Timing = Timing()
    fault: StreamFault | None = None
    usage: dict[str, int] | None = None  # scripted override of the counted usage
    headers: dict[str, str] = field(default_factory=dict)

    def usage_dict(self) -> dict[str, int]:
        if self.usage is not None:
            return dict(self.usage)
        completion = sum(choice.completion_tokens for choice in self.choices)
        return {"prompt_tokens": self.prompt_tokens, "total_tokens": self.prompt_tokens + completion,
                "completion_tokens": completion}
