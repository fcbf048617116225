"""The chunk vectors of every searchable upload, in one float32 matrix per store.

A row is one chunk's vector, exactly the float32 values ingestion stored (the matrix keeps them at
their own precision: nothing is rounded further). Uploads occupy consecutive rows, appended as
they are first searched; the matrix grows by doubling, and the rows of removed uploads are
reclaimed by compacting once they outnumber the live ones. Beside each row, its norm (float32),
for the approximate scoring of ``scoring.py``.

``add`` may run in a thread (one at a time: the store serialises them) while the event loop
removes uploads and search threads read: rows are written before they are published, growing or
compacting makes new arrays (a search keeps the ``snapshot`` it began with), and the bookkeeping
changes under a lock held for a dictionary swap only.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

MIN_ROWS = 256


@dataclass(frozen=True)
class Snapshot:
    """The matrix and the rows of each upload, as they were when a search began."""

    vectors: np.ndarray  # float32, rows x dimensions
    norms: np.ndarray  # float32, one a row: each row's norm (0 for a zero vector)
    rows: dict[str, range]


class VectorMatrix:
    def __init__(self, dimensions: int):
        self.dimensions = dimensions
        self._vectors = np.zeros((0, dimensions), dtype=np.float32)
        self._norms = np.zeros(0, dtype=np.float32)
        self._rows: dict[str, range] = {}
        self._used = 0  # rows written, those of removed uploads included until a compaction
        self._lock = threading.Lock()

    def has(self, key: str) -> bool:
        return key in self._rows

    def keys(self) -> set[str]:
        return set(self._rows)

    @property
    def nbytes(self) -> int:
        return int(self._vectors.nbytes + self._norms.nbytes)

    def add(self, key: str, packed: bytes) -> range:
        """Append an upload's packed little-endian float32 vectors (a multiple of ``dimensions``)."""
        rows = self._rows.get(key)
        if rows is not None:
            return rows
        block = np.frombuffer(packed, dtype="<f4").reshape(-1, self.dimensions)
        count = len(block)
        live = sum(len(r) for r in self._rows.values())
        if self._used - live > max(live, MIN_ROWS) and self._used + count > len(self._vectors):
            self._compact(live + count)
        elif self._used + count > len(self._vectors):
            self._grow(self._used + count)
        first = self._used
        self._vectors[first:first + count] = block
        self._norms[first:first + count] = np.sqrt(np.einsum("ij,ij->i", block, block, dtype=np.float64))
        self._used += count
        rows = range(first, first + count)
        with self._lock:
            self._rows = {**self._rows, key: rows}
        return rows

    def remove(self, key: str) -> None:
        """Forget an upload (its rows are reclaimed by a later ``add``)."""
        with self._lock:
            if key in self._rows:
                self._rows = {k: r for k, r in self._rows.items() if k != key}

    def snapshot(self) -> Snapshot:
        return Snapshot(self._vectors, self._norms, self._rows)

    def _grow(self, needed: int) -> None:
        capacity = max(needed, 2 * len(self._vectors), MIN_ROWS)
        vectors = np.zeros((capacity, self.dimensions), dtype=np.float32)
        norms = np.zeros(capacity, dtype=np.float32)
        vectors[:self._used] = self._vectors[:self._used]
        norms[:self._used] = self._norms[:self._used]
        self._vectors, self._norms = vectors, norms

    def _compact(self, needed: int) -> None:
        capacity = max(2 * needed, MIN_ROWS)
        vectors = np.zeros((capacity, self.dimensions), dtype=np.float32)
        norms = np.zeros(capacity, dtype=np.float32)
        moved: dict[str, range] = {}
        used = 0
        for key, old in self._rows.items():
            vectors[used:used + len(old)] = self._vectors[old.start:old.stop]
            norms[used:used + len(old)] = self._norms[old.start:old.stop]
            moved[key] = range(used, used + len(old))
            used += len(old)
        with self._lock:  # uploads removed during the copy stay removed
            self._rows = {key: rows for key, rows in moved.items() if key in self._rows}
            self._vectors, self._norms, self._used = vectors, norms, used
