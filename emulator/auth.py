"""Bearer keys, checked the way Paradigm's DRF authentication checks them."""

from __future__ import annotations

from starlette.requests import Request

from .errors import AuthenticationFailed, NotAuthenticated


def authenticate(request: Request, accepted: tuple[str, ...]) -> str:
    """-> the key. With no ``accepted`` keys configured, any non-empty key is accepted."""
    header = request.headers.get("authorization", "")
    scheme, _, key = header.strip().partition(" ")
    if not header or scheme.lower() != "bearer":
        raise NotAuthenticated()
    key = key.strip()
    if not key:
        raise AuthenticationFailed("Invalid token header. No credentials provided.")
    if " " in key:
        raise AuthenticationFailed("Invalid token header. Token string should not contain spaces.")
    if accepted and key not in accepted:
        raise AuthenticationFailed()
    return key
