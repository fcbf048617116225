"""The journal as a live stream: ``GET /_emulator/journal/events``, server-sent events.

Each open stream follows the journal on the state backend with a short wait between reads, so
it sees every worker's requests (``--workers N`` with Redis) and costs nothing when no page is
open. Events:

    entry     one journal entry, as ``GET /_emulator/journal`` shows it (``id:`` is its seq)
    cleared   the journal was emptied (a reset, ``DELETE /_emulator/journal``) by anyone
    : ping    a comment every ``KEEPALIVE_S`` so that proxies and the browser keep the stream
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

from ..journal import LOG, Journal, with_seq

INTERVAL_S = 0.25  # between two reads of the journal while a stream is open
KEEPALIVE_S = 15.0
BATCH = 200  # entries read per backend call


async def follow(journal: Journal, after: int, interval_s: float = INTERVAL_S,
                 keep: Callable[[bytes], bool] | None = None) -> AsyncIterator[bytes]:
    """The SSE bytes of every entry with seq > ``after``, then of each new one as it is written
    (``keep``: of those whose stored bytes it accepts, such as one test space's).

    One backend read per interval: from the last entry sent on. That entry gone means the journal
    was emptied (its numbering goes on, so what follows is new): the page is told ``cleared``."""
    cursor, sent = after, after > 0
    last_sent = time.monotonic()
    yield b"retry: 1000\n\n"
    while True:
        batch = await journal.state.read(LOG, max(cursor - 1, 0) if sent else cursor, BATCH + sent)
        if sent:
            if batch and batch[0][0] == cursor:
                batch = batch[1:]
            else:
                sent = False
                last_sent = time.monotonic()
                yield b"event: cleared\ndata: {}\n\n"
        if batch:
            parts = [b"id: %d\nevent: entry\ndata: %s\n\n" % (seq, with_seq(seq, _raw(value)))
                     for seq, value in batch if keep is None or keep(_raw(value))]
            cursor, sent = batch[-1][0], True
            if parts:
                last_sent = time.monotonic()
                yield b"".join(parts)
            if len(batch) >= BATCH:
                continue  # more are waiting: no pause
        if time.monotonic() - last_sent >= KEEPALIVE_S:
            last_sent = time.monotonic()
            yield b": ping\n\n"
        await asyncio.sleep(interval_s)


def _raw(value: object) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()
