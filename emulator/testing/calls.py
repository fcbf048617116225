"""The control calls every part of the test handle makes, and ``ControlError`` when one fails.

``ControlCalls`` is what the handle's parts (``scripting``, ``asked``, the handle itself) share: the
server, its control client, and one way to call ``/_emulator`` and to check the answer.
"""

from __future__ import annotations

from typing import Any

from .control import ControlClient, ControlResponse
from .local_control import LocalControlClient
from .servers import Server


class ControlError(RuntimeError):
    """The control API answered something a test cannot go on from (not a refused fixture)."""


class ControlCalls:
    """The server and its control client; ``_call`` and ``_check`` for the handle's parts."""

    server: Server
    _control: ControlClient | LocalControlClient

    def _call(self, method: str, path: str, **options: Any) -> ControlResponse:
        import http.client

        try:
            return self._control.request(method, "/_emulator" + path, **options)
        except (OSError, http.client.HTTPException) as exc:
            raise ControlError(f"the Paradigm emulator at {self.server.base_url} did not answer "
                               f"{method} /_emulator{path}: {exc!r}") from None

    def _check(self, response: ControlResponse) -> ControlResponse:
        if response.status_code >= 400:
            raise ControlError(f"{response.method} /_emulator{response.path}: "
                               f"{response.status_code} {response.text[:500]}")
        return response
