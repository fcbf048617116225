"""The lexical half of retrieval: BM25 over the chunks' words, in SQLite's FTS5.

FTS5 ships with Python's ``sqlite3`` (no dependency), is written in C, updates incrementally (a
file is indexed once, when it is first searched, and dropped when it is deleted) and ranks with a
standard Okapi BM25 (``bm25()``, k1 = 1.2, b = 0.75). The index lives in this process's memory: it
is a cache of what the state backend holds, rebuilt from it on demand, so it is correct to lose
and every worker builds the same one from the same files.
"""

from __future__ import annotations

import bisect
import re
import sqlite3
import threading
from typing import Iterable

MAX_TERMS = 64  # distinct words of a query that are looked up (a query is a question, not a file)
_WORD = re.compile(r"\w+", re.UNICODE)


def terms(query: str) -> list[str]:
    """The distinct words of a query, lowercased, in order."""
    return list(dict.fromkeys(w.lower() for w in _WORD.findall(query)))[:MAX_TERMS]


class LexicalIndex:
    def __init__(self) -> None:
        # One connection, used under a lock: requests run on one event loop, but a reset may come
        # from another thread.
        self._db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self._db.execute("CREATE VIRTUAL TABLE chunks USING fts5(body, "
                         "tokenize='unicode61 remove_diacritics 2')")
        self._lock = threading.Lock()
        self._rows: dict[str, range] = {}  # an upload's key -> the rowids of its chunks, in order
        self._next_row = 1

    def keys(self) -> set[str]:
        return set(self._rows)

    def has(self, key: str) -> bool:
        return key in self._rows

    def add(self, key: str, texts: Iterable[str]) -> None:
        texts = list(texts)
        with self._lock:
            if key in self._rows:
                return
            first = self._next_row
            self._db.executemany("INSERT INTO chunks(rowid, body) VALUES (?, ?)",
                                 ((first + i, text) for i, text in enumerate(texts)))
            self._rows[key] = range(first, first + len(texts))
            self._next_row = first + len(texts)

    def remove(self, key: str) -> None:
        with self._lock:
            rows = self._rows.pop(key, None)
            if rows:
                self._db.execute("DELETE FROM chunks WHERE rowid >= ? AND rowid < ?", (rows.start, rows.stop))

    def scores(self, query: str, keys: Iterable[str]) -> dict[tuple[str, int], float]:
        """BM25 of ``query`` in each chunk of the uploads ``keys`` that holds one of its words:
        (key, chunk index) -> score (> 0; a chunk without any of the words is absent). The corpus
        statistics (document frequencies, mean length) are those of every indexed chunk."""
        words = terms(query)
        if not words:
            return {}
        expression = " OR ".join('"' + w.replace('"', '""') + '"' for w in words)
        with self._lock:
            wanted = {self._rows[k].start: k for k in keys if k in self._rows and self._rows[k]}
            if not wanted:
                return {}
            starts = sorted(wanted)
            rows = self._db.execute("SELECT rowid, -bm25(chunks) FROM chunks WHERE chunks MATCH ?",
                                    (expression,)).fetchall()
            spans = {start: self._rows[wanted[start]] for start in starts}
        found: dict[tuple[str, int], float] = {}
        for rowid, score in rows:
            place = bisect.bisect_right(starts, rowid) - 1
            if place < 0:
                continue
            start = starts[place]
            if rowid < spans[start].stop:
                found[(wanted[start], rowid - start)] = max(float(score), 0.0)
        return found

    def clear(self) -> None:
        with self._lock:
            self._db.execute("DELETE FROM chunks")
            self._rows.clear()
