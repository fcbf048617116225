"""The request as a fixture's conditions see it: its texts, each extracted once, when first needed."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from ..tokenizer import last_user_message, message_text
from .regex_budget import DEFAULT_REGEX_BUDGET_MS, RegexBudget

if TYPE_CHECKING:
    from ..call import Call


class RequestView:
    """The texts of one request that conditions look at, each extracted once, when first needed."""

    def __init__(self, call: Call, regex_budget_ms: float = DEFAULT_REGEX_BUDGET_MS):
        self.call = call
        self.operation_id: str = call.operation.operation_id
        body = call.body
        self.body: dict[str, Any] = body if isinstance(body, dict) else {}
        self.budget = RegexBudget(regex_budget_ms, call)

    @cached_property
    def messages(self) -> list[dict[str, Any]]:
        messages = self.body.get("messages")
        return [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []

    @cached_property
    def inputs(self) -> list[str]:
        """The prompt (completions) or input (embeddings) texts."""
        for key in ("prompt", "input", "query"):  # query: a v3 turn's
            value = self.body.get(key)
            if isinstance(value, str):
                return [value]
            if isinstance(value, list):
                return [v for v in value if isinstance(v, str)]
        return []

    @cached_property
    def last_user_message(self) -> str | None:
        return last_user_message(self.body)

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
