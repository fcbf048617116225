"""The chunk vectors of every searchable upload, as float32 matrices held once.

A row is one chunk's vector: exactly the float32 values ingestion stored (nothing is rounded
further). An upload of ``OWN_BLOCK`` chunks or more is a matrix of its own, a read-only view over
the very bytes the state backend returned (``np.frombuffer``: no copy; on the memory backend those
bytes are the stored ones, so its vectors are in memory once, never twice). Smaller uploads share
one matrix, appended to as they are first searched and compacted once removed rows outnumber the
live ones, so that a store of many small files is still a few matrix products a search, not one
per file. Beside each row, its norm (float32), for the approximate scoring of ``scoring.py``.

``add`` may run in a thread (one at a time: the store serialises them) while the event loop
removes uploads and search threads read: rows are written before they are published, growing or
compacting makes new arrays (a search keeps the ``snapshot`` it began with), and the bookkeeping
changes under a lock held for a dictionary swap only.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

OWN_BLOCK = 64  # chunks from which an upload is a matrix (a view) of its own
MIN_ROWS = 256


@dataclass(frozen=True)
class Block:
    """An upload's vectors: ``vectors[rows]`` (rows of a shared matrix, or all of its own view)."""

    vectors: np.ndarray  # float32, rows x dimensions
    norms: np.ndarray  # float32, one a row of ``vectors``: its norm (0 for a zero vector)
    rows: range
    shared: bool  # rows of the matrix small uploads share


class VectorMatrix:
    def __init__(self, dimensions: int):
        self.dimensions = dimensions
        self._small = np.zeros((0, dimensions), dtype=np.float32)
        self._small_norms = np.zeros(0, dtype=np.float32)
        self._used = 0  # rows of the shared matrix written, removed ones included until a compaction
        self._blocks: dict[str, Block] = {}
        self._lock = threading.Lock()

    def has(self, key: str) -> bool:
        return key in self._blocks

    def keys(self) -> set[str]:
        return set(self._blocks)

    def snapshot(self) -> dict[str, Block]:
        """Every upload's block, as they are now (later changes make a new dictionary)."""
        return self._blocks

    def add(self, key: str, packed: bytes) -> Block:
        """An upload's packed little-endian float32 vectors (a multiple of ``dimensions`` floats)."""
        block = self._blocks.get(key)
        if block is not None:
            return block
        vectors = np.frombuffer(packed, dtype="<f4").reshape(-1, self.dimensions)
        norms = np.sqrt(np.einsum("ij,ij->i", vectors, vectors, dtype=np.float64)).astype(np.float32)
        if len(vectors) >= OWN_BLOCK:
            block = Block(vectors, norms, range(len(vectors)), shared=False)
        else:
            block = self._append(vectors, norms)
        with self._lock:
            self._blocks = {**self._blocks, key: block}
        return block

    def remove(self, key: str) -> None:
        """Forget an upload (its shared rows are reclaimed by a later ``add``)."""
        with self._lock:
            if key in self._blocks:
                self._blocks = {k: b for k, b in self._blocks.items() if k != key}

    def _append(self, vectors: np.ndarray, norms: np.ndarray) -> Block:
        count = len(vectors)
        if self._used + count > len(self._small):
            live = sum(len(b.rows) for b in self._blocks.values() if b.shared)
            if self._used - live > max(live, MIN_ROWS):
                self._compact(live + count)
            else:
                self._grow(self._used + count)
        first = self._used
        self._small[first:first + count] = vectors
        self._small_norms[first:first + count] = norms
        self._used += count
        return Block(self._small, self._small_norms, range(first, first + count), shared=True)

    def _grow(self, needed: int) -> None:
        capacity = max(needed, 2 * len(self._small), MIN_ROWS)
        vectors = np.zeros((capacity, self.dimensions), dtype=np.float32)
        norms = np.zeros(capacity, dtype=np.float32)
        vectors[:self._used] = self._small[:self._used]
        norms[:self._used] = self._small_norms[:self._used]
        self._small, self._small_norms = vectors, norms
        with self._lock:  # the shared blocks now point at the new arrays (same rows)
            self._blocks = {k: Block(vectors, norms, b.rows, True) if b.shared else b
                            for k, b in self._blocks.items()}

    def _compact(self, needed: int) -> None:
        capacity = max(2 * needed, MIN_ROWS)
        vectors = np.zeros((capacity, self.dimensions), dtype=np.float32)
        norms = np.zeros(capacity, dtype=np.float32)
        moved: dict[str, Block] = {}
        used = 0
        for key, block in self._blocks.items():
            if block.shared:
                old, count = block.rows, len(block.rows)
                vectors[used:used + count] = self._small[old.start:old.stop]
                norms[used:used + count] = self._small_norms[old.start:old.stop]
                moved[key] = Block(vectors, norms, range(used, used + count), True)
                used += count
        with self._lock:  # uploads removed during the copy stay removed
            self._blocks = {k: moved.get(k, b) for k, b in self._blocks.items()}
            self._small, self._small_norms, self._used = vectors, norms, used
