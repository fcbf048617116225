"""The identify stage: the caller's ``User`` on ``call.user``, right after authentication.

Inserted after ``validate`` (which has already refused a missing or malformed key), so a key
reaches here well-formed; with ``--users`` an undeclared key is refused here, with the same 401
the real service gives an unknown token.
"""

from __future__ import annotations

from starlette.requests import Request

from ..call import Call
from .directory import Users

STEP_NAME = "identify"
AFTER = "validate"


def bearer_key(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, key = header.strip().partition(" ")
    key = key.strip()
    return key if scheme.lower() == "bearer" and key else None


class Identify:
    """A pipeline stage: ``call.user`` from the bearer key (nothing on an unsecured operation)."""

    def __init__(self, users: Users):
        self.users = users

    async def __call__(self, call: Call) -> None:
        if not call.operation.secured:
            return None
        key = getattr(call, "api_key", None) or bearer_key(call.request)
        if key is not None:
            call.user = self.users.of_key(key)
        return None
