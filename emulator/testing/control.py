"""The test handle's connection to the control API: plain HTTP/1.1 on one kept-alive connection.

A handle makes a few control calls in every test (the reset, each rule, the journal), so their
cost is the plugin's own overhead. The standard library's ``http.client`` sends one in about a
fifth of the client CPU time httpx takes, which is what matters when the session server runs in
the same process (its thread waits for the client's GIL). One connection per emulator, shared by
the process's handles under a lock; a kept-alive connection the server has since closed is
opened again once, before any answer was read.
"""

from __future__ import annotations

import http.client
import json
import ssl
import threading
from typing import Any
from urllib.parse import urlencode, urlsplit

_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError, ConnectionAbortedError)


class ControlResponse:
    """What the handle reads of an answer: its status, its body, what was asked."""

    __slots__ = ("status_code", "content", "method", "path")

    def __init__(self, status_code: int, content: bytes, method: str, path: str):
        self.status_code, self.content, self.method, self.path = status_code, content, method, path

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)


class ControlClient:
    """Requests to one emulator's root URL (``http://host:port`` or ``https://...``)."""

    def __init__(self, base_url: str, headers: dict[str, str], timeout_s: float):
        parts = urlsplit(base_url)
        self._secure = parts.scheme == "https"
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port
        self._prefix = parts.path.rstrip("/")
        self._headers = {"Host": parts.netloc, "Accept": "application/json", **headers}
        self._timeout = timeout_s
        self._connection: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()

    def _open(self) -> http.client.HTTPConnection:
        if self._secure:
            return http.client.HTTPSConnection(self._host, self._port, timeout=self._timeout,
                                               context=ssl.create_default_context())
        return http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)

    def request(self, method: str, path: str, *, json: Any = None,
                params: dict[str, Any] | None = None) -> ControlResponse:
        """One call; an OSError or http.client.HTTPException when the emulator cannot be reached."""
        target = self._prefix + path + ("?" + urlencode(params) if params else "")
        body = b"" if json is None else _dumps(json)
        headers = {**self._headers, "Content-Length": str(len(body))}
        if json is not None:
            headers["Content-Type"] = "application/json"
        with self._lock:
            for attempt in (0, 1):
                reused = self._connection is not None
                connection = self._connection or self._open()
                self._connection = None
                try:
                    connection.request(method, target, body=body, headers=headers)
                    answer = connection.getresponse()
                    content = answer.read()
                except _STALE:
                    connection.close()
                    if reused and attempt == 0:
                        continue  # the server closed an idle connection: a new one, once
                    raise
                except BaseException:
                    connection.close()
                    raise
                if answer.will_close:
                    connection.close()
                else:
                    self._connection = connection
                return ControlResponse(answer.status, content, method, path)
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()
