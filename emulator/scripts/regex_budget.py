"""The time one request's fixture regexes may take, in all (--regex-budget-ms)."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..call import Call

log = logging.getLogger("emulator")

DEFAULT_REGEX_BUDGET_MS = 100.0


class RegexBudget:
    """The time one request's fixture regexes may take, in all; once spent, a regex is not run."""

    def __init__(self, ms: float, call: Call | None = None):
        self.ms = ms
        self.left_s = ms / 1000
        self.skipped = 0  # regex conditions counted as not matched for want of time
        self.call = call

    @property
    def spent(self) -> bool:
        return self.left_s <= 0

    def search(self, pattern: Any, text: str) -> bool:
        if self.left_s <= 0:
            self.skipped += 1
            return False
        began = time.perf_counter()
        try:
            return pattern.search(text, timeout=self.left_s, concurrent=True) is not None
        except TimeoutError:
            self.skipped += 1
            return False
        finally:
            self.left_s -= time.perf_counter() - began
            if self.left_s <= 0 and self.call is not None:
                self._say_so(pattern.pattern, len(text))

    def _say_so(self, pattern: str, length: int) -> None:
        call, self.call = self.call, None  # said once per request
        assert call is not None
        note = (f"fixture regexes used their {self.ms:g} ms budget (--regex-budget-ms) on this request, the "
                f"last one {pattern!r} on a text of {length} characters: the remaining regex conditions "
                f"count as not matched")
        call.notes.append(note)
        log.warning("%s %s: %s", call.request.method, call.request.url.path, note)
