"""The feedbacks on v2 completions: a record of the state backend each (space ``feedbacks``).

One record per completion and feedback type, so a second feedback of the same type replaces the
first and keeps its id and date; the ids come from a counter of their own.
"""

from __future__ import annotations

from typing import Any

from ..state import Backend, Value

SPACE, COUNTER = "feedbacks", "feedbacks"


class FeedbackStore:
    def __init__(self, state: Backend):
        self.state = state

    async def next_number(self) -> int:
        return await self.state.incr(COUNTER)

    async def keep(self, completion: str, kind: int, made: dict[str, Any]) -> dict[str, Any]:
        """Store ``made`` as the feedback of this type on the completion; one already there keeps
        its ``id`` and ``created_at``. -> the feedback stored."""

        def keep(current: Value | None) -> Value | None:
            if isinstance(current, dict):
                return {**made, "id": current["id"], "created_at": current["created_at"]}
            return made

        stored = await self.state.update(SPACE, f"{completion}:{kind}", keep)
        return stored if isinstance(stored, dict) else made
