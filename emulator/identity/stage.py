"""The identify stage: the caller's ``User`` on ``call.user``, right after authentication.

Inserted after ``validate``, which has already refused a missing or malformed key and left the
key on ``call.api_key``; with ``--users`` an undeclared key is refused here, with the same 401
the real service gives an unknown token.
"""

from __future__ import annotations

from ..call import Call
from .directory import Users

STEP_NAME = "identify"
AFTER = "validate"


class Identify:
    """A pipeline stage: ``call.user`` from the bearer key (nothing on an unsecured operation)."""

    def __init__(self, users: Users):
        self.users = users

    async def __call__(self, call: Call) -> None:
        key = call.api_key  # None on an unsecured operation, and when an upstream checks the keys
        if key is not None:
            call.user = self.users.of_key(key)
        return None
