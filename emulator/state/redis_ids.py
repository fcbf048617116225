"""The Redis backend's id sequences after a loss: an id is never handed out twice.

A Redis without persistence that restarts has lost every record, and its counters start again.
So that an id is still never handed out twice (a client holding an old file id gets a 404, not
someone else's file), the marker written at start is checked by every ``next_id`` and journal
append, in the same script: when it is gone, the first script to see it writes a floor, the
seconds since the emulator's epoch on the Redis clock (past every id given before, at under one
id a second since the data began, and past the highest id this worker gave), and every id
sequence, the journal's included, goes on from there. The worker that saw it logs it once.

``Sequences`` is what one worker remembers for it: the marker's token it last saw (a new one
means a reset or a loss) and the highest id it has had of each sequence.
"""

from __future__ import annotations

import logging

log = logging.getLogger("emulator.state")
MARKER = "marker"


def start_marker_key(prefix: str) -> str:
    """The key of the marker written at start (``serve --workers`` writes it before its workers)."""
    return f"{prefix}{MARKER}"


class Sequences:
    def __init__(self, url: str):
        self.url = url  # named in the warning of a loss
        self.token = ""  # the marker token this worker last saw: a new one means a reset or a loss
        self.highest: dict[str, int] = {}  # the highest id this worker has had of each sequence

    def top(self) -> int:
        """The highest id this worker has had of any sequence."""
        return max(self.highest.values(), default=0)

    def given(self, sequence: str, value: int) -> None:
        self.highest[sequence] = max(value, self.highest.get(sequence, 0))

    def seen(self, lost: int, token: bytes | str) -> None:
        """Told the loss flag and the marker token of every id and journal entry the scripts gave."""
        token = token.decode() if isinstance(token, bytes) else token
        if token != self.token:
            self.highest = {}  # a reset (or a loss, whose floor is past them): they no longer bind
            self.token = token
        if lost:
            log.warning("the Redis at %s (--redis-url) has lost the emulator's data: it restarted without "
                        "persistence, or was emptied. Every file, thread, fixture and journal entry made "
                        "before is gone, and every id sequence goes on past the ids given before, so an "
                        "old id answers 404. Turn Redis persistence on (appendonly yes) to keep the data.",
                        self.url)
