"""The handle's view of what reached the emulator in this test: requests, counts, assertions.

The journal is read through the control API, only what is new since the last read
(``?after=SEQ``); ``requests.RequestLog`` turns the entries into ``Request`` objects and words the
failed assertions.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .calls import ControlCalls
from .requests import Request, RequestLog

if TYPE_CHECKING:
    from ..journal import Entry


class Asked(ControlCalls):
    """This test's journal entries, oldest first, and the assertions on them."""

    _journal: list[Entry]
    _log: RequestLog

    def _entries(self) -> list[Entry]:
        """This test's journal entries, oldest first: only what is new since the last read is fetched."""
        from ..journal import Entry

        after = self._journal[-1].seq if self._journal else 0  # reset empties it; the numbering goes on
        response = self._check(self._call("GET", "/journal", params={"after": after}))
        self._journal.extend(Entry.from_dict(data) for data in response.json()["requests"])
        return self._journal

    @property
    def requests(self) -> tuple[Request, ...]:
        """Every request of this test, oldest first."""
        return self._log.all

    @property
    def call_count(self) -> int:
        return len(self._entries())

    @property
    def last(self) -> Request:
        __tracebackhide__ = True
        requests = self._log.all
        if not requests:
            raise AssertionError("no request has reached the emulator in this test (is the code under test "
                                 f"using {self.server.v2} or PARADIGM_BASE_URL?)")
        return requests[-1]

    def wait_for(self, count: int, timeout_s: float = 5.0) -> tuple[Request, ...]:
        """Wait until ``count`` requests are in the journal: for calls made from background threads,
        and for a request the client gave up on, which the emulator records when it is done."""
        __tracebackhide__ = True
        deadline = time.monotonic() + timeout_s
        while True:
            requests = self._log.all
            if len(requests) >= count:
                return requests
            if time.monotonic() >= deadline:
                raise AssertionError(f"waited {timeout_s} s for {count} request(s), {len(requests)} arrived")
            time.sleep(0.005)

    def calls(self, target: str | None = None, body: Mapping[str, Any] | None = None,
              **body_subset: Any) -> tuple[Request, ...]:
        """The requests to ``target`` whose body contains ``body_subset`` (see ``recorded``)."""
        return self._log.filter(target, {**(body or {}), **body_subset})

    def assert_called(self, target: str | None = None, times: int | None = 1, *,
                      body: Mapping[str, Any] | None = None, **body_subset: Any) -> tuple[Request, ...]:
        """Exactly ``times`` requests to ``target`` (None: at least one) whose JSON body contains
        ``body_subset``; use ``body={...}`` for keys that are not Python names. Returns them."""
        __tracebackhide__ = True
        return self._log.assert_called(target, times, {**(body or {}), **body_subset})

    def assert_not_called(self, target: str | None = None, *, body: Mapping[str, Any] | None = None,
                          **body_subset: Any) -> None:
        __tracebackhide__ = True
        self._log.assert_called(target, 0, {**(body or {}), **body_subset})
