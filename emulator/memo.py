"""Answers already given, kept for a deterministic request asked again.

A generated answer is a pure function of the request bytes and the settings, and a
test suite asks the same thing many times (the same prompt in many tests, a retry),
so the rendered JSON body is kept and served again without regenerating it. Only
plain generated answers of model calls are kept: never when a fixture matched, when a
control header or a server-wide delay is in play, nor for streams (which are paced).

Keys are a hash of the body, not the body (a 5 MB prompt costs 16 bytes to remember),
and the kept answers are bounded in bytes (``--memo-mb``), least recently used first out.
A memo is a cache that is correct to lose: each worker keeps its own.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

from starlette.responses import Response

from .call import EncodedJSON

if TYPE_CHECKING:
    from .call import Call

MemoKey = tuple[str, bytes]  # (operationId, blake2b of the raw body)
MAX_BODY_BYTES = 64 * 1024  # big bodies (embedding batches) cost more memory than they save time
MAX_KEYED_BYTES = 1024 * 1024  # a request body this big is seldom sent twice: not worth hashing
# Bytes an entry costs beyond its body's length: the key (a tuple and its 16-byte digest), the value's
# tuple, the bytes object's header, the ordered dict's slot and link, the allocator's rounding
# (measured with tracemalloc: ~325 bytes). Small answers (a 500-byte chat) are most of the memo.
ENTRY_OVERHEAD = 352


class AnswerMemo:
    def __init__(self, enabled: bool = True, max_mb: float = 32.0):
        self.enabled = enabled and max_mb > 0
        self.max_bytes = int(max_mb * 1024 * 1024)
        self.size = 0  # bytes held: bodies plus ENTRY_OVERHEAD each
        # (body, media type, whether the emulator encoded it: see call.EncodedJSON)
        self._answers: OrderedDict[MemoKey, tuple[bytes, str, bool]] = OrderedDict()
        self._lock = threading.Lock()

    def key(self, call: Call) -> MemoKey | None:
        """Where this call's answer is kept, or None when it must be computed afresh."""
        # (A stream needs no test here: it is never kept, so its bytes never find an entry.)
        if (not self.enabled or not call.raw_body or call.script is not None or call.controls is not None
                or not call.route.answering or len(call.raw_body) > MAX_KEYED_BYTES):
            return None
        return (call.operation.operation_id, hashlib.blake2b(call.raw_body, digest_size=16).digest())

    def get(self, key: MemoKey | None) -> Response | None:
        if key is None:
            return None
        with self._lock:
            kept = self._answers.get(key)
            if kept is not None:
                self._answers.move_to_end(key)
        if kept is None:
            return None
        return (EncodedJSON if kept[2] else Response)(kept[0], media_type=kept[1])

    def put(self, key: MemoKey | None, response: Response) -> Response:
        body = getattr(response, "body", None)
        if (key is None or response.status_code != 200 or not isinstance(body, bytes)
                or len(body) > MAX_BODY_BYTES or len(response.raw_headers) > 2):  # scripted headers
            return response
        cost = len(body) + ENTRY_OVERHEAD
        if cost > self.max_bytes:
            return response
        with self._lock:
            old = self._answers.pop(key, None)
            if old is not None:
                self.size -= len(old[0]) + ENTRY_OVERHEAD
            self._answers[key] = (body, response.media_type or "application/json",
                                  isinstance(response, EncodedJSON))
            self.size += cost
            while self.size > self.max_bytes:
                _, (dropped, _, _) = self._answers.popitem(last=False)
                self.size -= len(dropped) + ENTRY_OVERHEAD
        return response

    def __len__(self) -> int:
        return len(self._answers)

    def clear(self) -> None:
        with self._lock:
            self._answers.clear()
            self.size = 0
