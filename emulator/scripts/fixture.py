"""Fixture: one compiled fixture, what matching, the registry and the near-miss report read.

It holds the fixture's conditions (``conditions``), its responses and the dict it came from, and
says which conditions a request fails. Its uses are counted on the state backend (the registry);
``uses`` here is the last count read, for messages.
"""

from __future__ import annotations

import threading
from typing import Any

from .conditions import Check
from .request_view import RequestView


class Fixture:
    """A compiled fixture. ``uses`` counts the calls it answered (what `times` and `responses` follow)."""

    def __init__(self, name: str, priority: int, times: int | None, operation_ids: frozenset[str] | None,
                 checks: list[Check], needles: tuple[bytes, ...], responses: list[dict[str, Any]],
                 raw: dict[str, Any], source: str):
        self.name, self.priority, self.times = name, priority, times
        self.operation_ids, self.checks, self.responses = operation_ids, checks, responses
        self.needles = needles  # texts a raw JSON body must contain for it to match (matching.Prefilter)
        self.raw, self.source = raw, source
        self.uses = 0  # the last count read from the backend (for messages; the backend's is the truth)
        self.counter = f"uses:{name}"  # its use counter on the state backend (the registry sets it)
        self.space: str | None = None  # the one test space it answers in (None: every space)
        self._lock = threading.Lock()

    def applies_to(self, operation_id: str, answering: frozenset[str]) -> bool:
        return operation_id in (self.operation_ids if self.operation_ids is not None else answering)

    def first_failure(self, view: RequestView) -> str | None:
        for check in self.checks:
            reason = check(view)
            if reason is not None:
                return reason
        return None

    def failures(self, view: RequestView, answering: frozenset[str]) -> list[str]:
        """Every condition that does not hold (for the near-miss report of strict mode)."""
        found = []
        if not self.applies_to(view.operation_id, answering):
            found.append(f"operation: the request is {view.operation_id}")
        if self.exhausted:
            found.append(f"used up: it answered {self.uses} call(s) already (times: {self.times})")
        return found + [reason for reason in (check(view) for check in self.checks) if reason is not None]

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.uses >= self.times

    def claim(self) -> tuple[int, dict[str, Any]] | None:
        """Take the next use: (its number from 1, the response for it), or None when `times` is used
        up. Atomic, so concurrent calls never share a use."""
        with self._lock:
            if self.times is not None and self.uses >= self.times:
                return None
            self.uses += 1
            return self.uses, self.responses[min(self.uses - 1, len(self.responses) - 1)]

    def reset(self) -> None:
        with self._lock:
            self.uses = 0

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, "priority": self.priority, "times": self.times,
                "uses": self.uses,
                **{k: v for k, v in self.raw.items() if k not in ("name", "priority", "times")}}

