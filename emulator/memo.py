"""Answers already given, kept for a deterministic request asked again.

A generated answer is a pure function of the request bytes and the settings, and a
test suite asks the same thing many times (the same prompt in many tests, a retry),
so the rendered JSON body is kept, bounded, and served again without regenerating
it. Only plain generated answers are kept: never when a fixture matched, when a
control header or a server-wide delay is in play, nor for streams (which are paced).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from starlette.responses import Response

from .controls import CONTROLS_ATTR

MAX_ENTRIES = 2048
MAX_BODY_BYTES = 64 * 1024  # big bodies (embedding batches) cost more memory than they save time


class AnswerMemo:
    def __init__(self, enabled: bool = True, max_entries: int = MAX_ENTRIES):
        self.enabled = enabled
        self.max_entries = max_entries
        self._answers: OrderedDict[tuple[str, bytes], tuple[bytes, str]] = OrderedDict()
        self._lock = threading.Lock()

    def key(self, call: Any) -> tuple[str, bytes] | None:
        """Where this call's answer is kept, or None when it must be computed afresh."""
        # (A stream needs no test here: it is never kept, so its bytes never find an entry.)
        if not self.enabled or not call.raw_body or call.fixture is not None or CONTROLS_ATTR in call.__dict__:
            return None
        return (call.operation.operation_id, call.raw_body)

    def get(self, key: tuple[str, bytes] | None) -> Response | None:
        if key is None:
            return None
        with self._lock:
            kept = self._answers.get(key)
            if kept is not None:
                self._answers.move_to_end(key)
        return None if kept is None else Response(kept[0], media_type=kept[1])

    def put(self, key: tuple[str, bytes] | None, response: Response) -> Response:
        body = getattr(response, "body", None)
        if (key is None or response.status_code != 200 or not isinstance(body, bytes)
                or len(body) > MAX_BODY_BYTES or len(response.headers) > 2):  # scripted headers: not plain
            return response
        with self._lock:
            self._answers[key] = (body, response.media_type or "application/json")
            while len(self._answers) > self.max_entries:
                self._answers.popitem(last=False)
        return response

    def clear(self) -> None:
        with self._lock:
            self._answers.clear()
