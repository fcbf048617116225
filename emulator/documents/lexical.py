"""The lexical half of retrieval: BM25 over the chunks' words, in SQLite's FTS5.

FTS5 ships with Python's ``sqlite3`` (no dependency), is written in C, updates incrementally (a
file is indexed once, when it is first searched, and dropped when it is deleted) and ranks with a
standard Okapi BM25 (``bm25()``, k1 = 1.2, b = 0.75). The table is contentless: it holds the
index, not the text (the store has it once). The index lives in this process's memory: it
is a cache of what the state backend holds, rebuilt from it on demand, so it is correct to lose
and every worker builds the same one from the same files.

Every use of the index runs on one thread of its own, in the order it was asked for: indexing a
large file (17,000 chunks take ~0.5 s) never holds up the event loop, and a search always sees
every file indexed before it was asked, whole (so its BM25 statistics are exactly those of the
files it was asked over, never of a file half indexed).
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import chain

import numpy as np

MAX_TERMS = 64  # distinct words of a query that are looked up (a query is a question, not a file)
_WORD = re.compile(r"\w+", re.UNICODE)


def terms(query: str) -> list[str]:
    """The distinct words of a query, lowercased, in order."""
    return list(dict.fromkeys(w.lower() for w in _WORD.findall(query)))[:MAX_TERMS]


@dataclass(frozen=True)
class Matches:
    """The chunks that hold a word of a query: ``keys[slots[i]]``'s chunk ``indices[i]`` has BM25
    ``scores[i]`` (> 0 or clamped to 0, float64); ``best`` is the highest (0.0 when none)."""

    keys: list[str]
    slots: np.ndarray
    indices: np.ndarray
    scores: np.ndarray
    best: float

    @classmethod
    def none(cls) -> Matches:
        empty = np.zeros(0, dtype=np.int64)
        return cls([], empty, empty, np.zeros(0, dtype=np.float64), 0.0)


class LexicalIndex:
    def __init__(self) -> None:
        # Created, used and closed on the index's one thread only.
        self._db: sqlite3.Connection | None = None
        self._rows: dict[str, range] = {}  # an upload's key -> the rowids of its chunks, in order
        self._next_row = 1
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="paradigm-lexical")
        # What has been asked to be indexed (on the event loop's side: the thread catches up in order).
        self._known: set[str] = set()

    def keys(self) -> set[str]:
        return set(self._known)

    def has(self, key: str) -> bool:
        return key in self._known

    async def add(self, key: str, texts: list[str]) -> None:
        if key in self._known:
            return
        self._known.add(key)
        await asyncio.get_running_loop().run_in_executor(self._pool, self._add, key, texts)

    def remove(self, key: str, texts: list[str] | None) -> None:
        """Drop an upload's chunks (done in order on the index's thread; nothing to wait for).
        The index keeps no copy of the text, so it is told the texts it was given for ``key``;
        without them (None) the whole index is dropped, to be built again by the next search."""
        if key not in self._known:
            return
        if texts is None:
            self._known.clear()
            self._pool.submit(self._reset)
        else:
            self._known.discard(key)
            self._pool.submit(self._remove, key, texts)

    async def matches(self, query: str, keys: Iterable[str]) -> Matches:
        """BM25 of ``query`` in each chunk of the uploads ``keys`` that holds one of its words (a chunk
        without any of them is absent). The corpus statistics (document frequencies, mean length)
        are those of every indexed chunk."""
        words = terms(query)
        if not words:
            return Matches.none()
        expression = " OR ".join('"' + w.replace('"', '""') + '"' for w in words)
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._matches, expression,
                                                                list(keys))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- on the index's thread ------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = sqlite3.connect(":memory:", isolation_level=None)
            # Contentless (content=''): the index alone, no copy of the text (the store has it).
            self._db.execute("CREATE VIRTUAL TABLE chunks USING fts5(body, content='', "
                             "tokenize='unicode61 remove_diacritics 2')")
        return self._db

    def _add(self, key: str, texts: list[str]) -> None:
        if key in self._rows:
            return
        first = self._next_row
        self._connection().executemany("INSERT INTO chunks(rowid, body) VALUES (?, ?)",
                                       ((first + i, text) for i, text in enumerate(texts)))
        self._rows[key] = range(first, first + len(texts))
        self._next_row = first + len(texts)

    def _remove(self, key: str, texts: list[str]) -> None:
        rows = self._rows.pop(key, None)
        if rows:
            # A contentless table forgets a row given the values it was indexed with (the store's
            # chunks of the upload, the very texts ``add`` was given).
            self._connection().executemany("INSERT INTO chunks(chunks, rowid, body) VALUES ('delete', ?, ?)",
                                           zip(rows, texts, strict=True))

    def _reset(self) -> None:
        if self._db is not None:
            self._db.close()
        self._db = None
        self._rows.clear()

    def _matches(self, expression: str, keys: list[str]) -> Matches:
        wanted = sorted((self._rows[k].start, self._rows[k].stop, k) for k in keys
                        if k in self._rows and self._rows[k])
        if not wanted:
            return Matches.none()
        rows = self._connection().execute("SELECT rowid, -bm25(chunks) FROM chunks WHERE chunks MATCH ?",
                                          (expression,)).fetchall()
        if not rows:
            return Matches.none()
        found = np.fromiter(chain.from_iterable(rows), dtype=np.float64, count=2 * len(rows)).reshape(-1, 2)
        rowids = found[:, 0].astype(np.int64)
        starts = np.array([w[0] for w in wanted], dtype=np.int64)
        stops = np.array([w[1] for w in wanted], dtype=np.int64)
        place = np.searchsorted(starts, rowids, side="right") - 1
        inside = place >= 0
        inside[inside] = rowids[inside] < stops[place[inside]]
        slots = place[inside]
        scores = found[inside, 1]
        scores = np.where(0.0 > scores, 0.0, scores)  # max(score, 0.0), as Python's max() picks
        best = float(scores.max()) if len(scores) else 0.0
        return Matches([w[2] for w in wanted], slots, rowids[inside] - starts[slots], scores, best)
