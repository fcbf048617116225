"""What was asked and answered: one immutable entry per request, newest last."""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

REDACTED_HEADERS = {"authorization", "cookie", "x-emulator-admin-token"}


@dataclass(frozen=True)
class Entry:
    seq: int
    method: str
    path: str
    operation_id: str
    query: dict[str, Any]
    headers: dict[str, str]
    body: Any
    status: int
    fixture: str | None
    duration_ms: float

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "method": self.method, "path": self.path, "operation_id": self.operation_id,
                "query": self.query, "headers": self.headers, "body": self.body, "status": self.status,
                "fixture": self.fixture, "duration_ms": self.duration_ms}


class Journal:
    """Bounded (oldest dropped first), so a long-running dev server does not grow without end."""

    def __init__(self, limit: int = 10_000):
        self._entries: deque[Entry] = deque(maxlen=limit)
        self._seq = itertools.count(1)
        self._lock = threading.Lock()

    def record(self, call: Any, response: Response) -> None:
        request = call.request
        headers = {k: v for k, v in request.headers.items() if k.lower() not in REDACTED_HEADERS}
        body = call.body if not call.uploads else {**call.body, **{k: f"<file {u.filename}>"
                                                                   for k, u in call.uploads.items()}}
        entry = Entry(
            seq=next(self._seq), method=request.method, path=request.url.path,
            operation_id=call.operation.operation_id, query=dict(call.query), headers=headers, body=body,
            status=response.status_code, fixture=call.fixture,
            duration_ms=round((time.perf_counter() - call.started) * 1000, 3),
        )
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[Entry]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
