"""What was asked and answered: one immutable entry per request, newest last.

The pipeline records a request once its response body has ended (or its client went away),
with the real duration and how the body ended: ``complete``, ``truncated`` (a stream fault cut
it) or ``dropped`` (the client went away, or a drop fault closed the connection)."""

from __future__ import annotations

import itertools
import threading
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .call import Call

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
    outcome: str  # complete | truncated | dropped
    fixture: str | None
    duration_ms: float

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "method": self.method, "path": self.path, "operation_id": self.operation_id,
                "query": self.query, "headers": self.headers, "body": self.body, "status": self.status,
                "outcome": self.outcome, "fixture": self.fixture, "duration_ms": self.duration_ms}


class Journal:
    """Bounded (oldest dropped first), so a long-running dev server does not grow without end.

    Recording is on every request's path, so it keeps only references (the raw header list,
    the parsed body) and builds the ``Entry`` views when the journal is read."""

    def __init__(self, limit: int = 10_000):
        self._records: deque[tuple] = deque(maxlen=limit)
        self._seq = itertools.count(1)
        self._lock = threading.Lock()

    async def record(self, call: Call, *, status: int, outcome: str, seconds: float) -> None:
        request = call.request
        record = (next(self._seq), request.method, request.scope["path"], call.operation.operation_id,
                  call.query, request.scope["headers"], call.body,
                  tuple((k, u.filename) for k, u in call.uploads.items()), status, outcome, call.fixture,
                  seconds)
        with self._lock:
            self._records.append(record)

    def entries(self) -> list[Entry]:
        with self._lock:
            records = list(self._records)
        return [_entry(record) for record in records]

    def clear(self) -> None:
        with self._lock:
            self._records.clear()


def _entry(record: tuple) -> Entry:
    (seq, method, path, operation_id, query, raw_headers, body, uploads, status, outcome, fixture,
     seconds) = record
    headers = {}
    for name, value in raw_headers:
        key = name.decode("latin-1").lower()
        if key not in REDACTED_HEADERS:
            headers[key] = value.decode("latin-1")
    if uploads:
        body = {**body, **{name: f"<file {filename}>" for name, filename in uploads}}
    return Entry(seq=seq, method=method, path=path, operation_id=operation_id, query=dict(query),
                 headers=headers, body=body, status=status, outcome=outcome, fixture=fixture,
                 duration_ms=round(seconds * 1000, 3))
