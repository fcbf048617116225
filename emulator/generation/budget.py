"""The budget of one structured output: what the values drawn for it may cost, and how deep.

``budget_for`` sets the ``Budget`` of the output being generated, so that every maker of
``instances`` and ``regex_text`` spends it (``spend``) and names its request field in every
error (``field``: a ``pattern`` inside ``response_format`` is ``response_format``'s error, not
``guided_regex``'s).
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ..config import Settings
from ..errors import BadRequest

MAX_ITEMS = 256  # what minItems, minLength and regex repeats may ask for, at most


@dataclass
class Budget:
    """What the structured output of one request may cost: values drawn (array items, properties,
    regex repeats, and long strings by their length) and depth of nesting."""

    values: int = 10_000
    depth: int = 32
    spent: int = 0
    field: str = "response_format"  # the request field being followed: every error names it

    @classmethod
    def of(cls, settings: Settings) -> Budget:
        return cls(values=settings.max_structured_values, depth=settings.max_structured_depth)

    def spend(self, values: int = 1) -> None:
        self.spent += values
        if self.spent > self.values:
            raise BadRequest(f"The requested structured output needs more than {self.values} values (arrays, "
                             f"properties, long strings or regex repeats); the limit is "
                             f"--max-structured-values {self.values}. Ask for fewer (minItems, minLength) or "
                             f"raise the limit.",
                             param=self.field)

    def enter(self, depth: int) -> None:
        if depth > self.depth:
            raise BadRequest(f"The requested structured output nests deeper than {self.depth} levels (a "
                             f"$ref that requires itself?); the limit is --max-structured-depth "
                             f"{self.depth}.",
                             param=self.field)


# The budget of the output being generated: set by budget_for, so that every maker can spend it.
_budget: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("structured_budget", default=None)


def current() -> Budget | None:
    """The budget of the output being generated (None outside ``budget_for``)."""
    return _budget.get()


def spend(values: int = 1) -> None:
    """Spend ``values`` from the budget being followed, if any."""
    budget = _budget.get()
    if budget is not None:
        budget.spend(values)


def field() -> str:
    """The request field being followed (every error names it)."""
    budget = _budget.get()
    return budget.field if budget is not None else "response_format"


@contextmanager
def budget_for(budget: Budget) -> Iterator[Budget]:
    """Spend ``budget`` on every value drawn in this block (and name its ``field`` in every error)."""
    token = _budget.set(budget)
    try:
        yield budget
    finally:
        _budget.reset(token)

