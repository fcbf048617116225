"""The user's own settings (``PATCH /api/v3/users/me``): a record of the state backend, per user.

The agents file gives the user (``user:``); what the user changes through the API is kept in the
``users`` space under the user's id and laid over it, so every worker answers the same ``users/me``
and a reset brings the file's values back.
"""

from __future__ import annotations

from typing import Any

from ..state import Backend, Value

SPACE = "users"
SETTINGS = ("language", "agent_instructions", "skip_help_step", "terms_accepted")


class UserSettings:
    def __init__(self, state: Backend):
        self.state = state

    async def get(self, user_id: int) -> dict[str, Any]:
        found = await self.state.get(SPACE, str(user_id))
        return found if isinstance(found, dict) else {}

    async def patch(self, user_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        kept = {k: v for k, v in changes.items() if k in SETTINGS}

        def change(current: Value | None) -> Value | None:
            return {**(current if isinstance(current, dict) else {}), **kept}

        patched = await self.state.update(SPACE, str(user_id), change)
        return patched if isinstance(patched, dict) else kept
