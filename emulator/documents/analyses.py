"""The document analyses: each one a record of the state backend (space ``analyses``, by uuid).

An ``Analysis`` is what was asked (the query, the documents) and when, on the backend's shared
clock; its progress is computed from that clock on every poll (``handlers/analysis.py``), so any
worker answers it. The first poll that sees it end stores the ``Progress`` it ended with, and every
later poll, on any worker, reads that outcome back instead of recomputing it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ..identity.ownership import drop_company_records
from ..state import Backend, Value

SPACE = "analyses"
COUNTER = "analysis-ids"
SESSIONS = "analysis-chat-sessions"


@dataclass(frozen=True)
class Progress:
    status: str
    progress: float
    reduction_phase: int
    result: str | None = None
    completed: float | None = None  # seconds after creation (a deterministic completed_at)


@dataclass(frozen=True)
class Analysis:
    """One analysis, as the value the backend keeps (``value()`` / ``of()``)."""

    uuid: str
    number: int  # its place in the backend's counter: what its uuid and created_at are drawn from
    chat_session_id: int
    query: str
    document_ids: tuple[int, ...]
    asked: float  # the backend's shared clock when it was asked
    created_at: int  # Unix seconds: the epoch plus ``number``
    model: str | None = None
    private: bool = False
    outcome: Progress | None = None  # how it ended, once a poll saw it end
    owner: dict[str, Any] = field(default_factory=dict)  # who asked (identity/ownership.py): theirs alone

    def value(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "document_ids": list(self.document_ids)}

    @classmethod
    def of(cls, value: Any) -> Analysis:
        outcome = value.get("outcome")
        return cls(**{**value, "document_ids": tuple(value["document_ids"]),
                      "outcome": Progress(**outcome) if isinstance(outcome, dict) else None})


class AnalysisStore:
    """The analyses of the state backend, and the counters their numbers and chat sessions come from."""

    def __init__(self, state: Backend):
        self.state = state

    async def next_number(self) -> int:
        return await self.state.next_id(COUNTER)

    async def next_chat_session(self) -> int:
        return await self.state.next_id(SESSIONS)

    async def put(self, analysis: Analysis) -> None:
        await self.state.put(SPACE, analysis.uuid, analysis.value())

    async def get(self, key: str) -> Analysis | None:
        value = await self.state.get(SPACE, key)
        return Analysis.of(value) if isinstance(value, dict) else None

    async def drop_company(self, company_id: int) -> int:
        """Remove every analysis a user of the company asked for (a space's reset); -> how many."""
        return await drop_company_records(self.state, SPACE, company_id)

    async def finish(self, key: str, outcome: Progress) -> Progress | None:
        """Store ``outcome`` unless an outcome is there already; -> the outcome kept (None: the
        analysis is gone)."""

        def keep(current: Value | None) -> Value | None:
            if not isinstance(current, dict) or isinstance(current.get("outcome"), dict):
                return current
            return {**current, "outcome": dataclasses.asdict(outcome)}

        stored = await self.state.update(SPACE, key, keep)
        return Analysis.of(stored).outcome if isinstance(stored, dict) else None
