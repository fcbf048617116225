"""What to tell a user whose request missed Paradigm's API: the base URLs that would have worked.

An unknown path under ``/api/v2`` or ``/api/v3`` keeps Paradigm's own 404 body (``Not found.``, the
contract); a path outside them (``/v1/chat/completions`` from an OpenAI base URL, ``/chat/completions``
from a base URL without ``/api/v2``) gets a ``detail`` naming the base URLs and the path it may have
meant.
"""

from __future__ import annotations

from collections.abc import Mapping

API_PREFIXES = ("/api/v2/", "/api/v3/", "/_emulator/")
_OPENAI_PREFIXES = ("/v1/", "/api/v1/", "/openai/v1/", "/api/")


def unknown_path_detail(path: str, headers: Mapping[str, str]) -> str | None:
    """The 404 ``detail`` for ``path``, or None to keep Paradigm's own ``Not found.``."""
    if path.startswith(API_PREFIXES) or path in ("/api/v2", "/api/v3", "/_emulator"):
        return None
    host = headers.get("host") or "127.0.0.1:8000"
    root = f"http://{host}"
    rest = path
    for prefix in _OPENAI_PREFIXES:
        if path.startswith(prefix):
            rest = path[len(prefix) - 1:]
            break
    meant = f" (for {path}: {root}/api/v2{rest})" if rest not in ("", "/") else ""
    return (f"Not found: {path} is not a Paradigm API path. Use the base URL {root}/api/v2 (or "
            f"{root}/api/v3 for threads and turns) as the client's base_url{meant}.")
