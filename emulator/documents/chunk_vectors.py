"""The vectors of many chunks at once, in numpy: bit for bit those of ``generation.vectors.embed``.

Ingestion embeds thousands of chunks a file. ``embed_uncached`` builds one vector at a time (~110 µs
a chunk of ~1,200 characters at 1,024 dimensions; ~60 µs in a batch): a batch of chunks is one matrix, and
every step does the very floating-point operations ``embed_uncached`` does, in the same order, so
the result is the same float32 values to the last bit (``tests/test_chunk_vectors.py`` compares):

* the dense part: the same shake-256 bytes, ``(v - 32768) * (0.08 / 32768)`` in float64;
* the words (each chunk's distinct words, counted by ``chunk_words``): each one's 8 signed
  directions times ``sqrt(count)``, added by ``np.bincount`` to the dense part (listed first, so
  each cell's sum starts as 0 + its dense part, that part exactly), which adds repeated positions
  one after the other, in the words' first-seen order (the order of the Python loop), since float
  addition is not associative;
* the norm: the squares summed left to right as the interpreter's ``sum`` does (plainly before
  Python 3.12: an accumulation along each row; with Neumaier's compensation from 3.12 on, one
  column of the batch at a time);
* the division by the norm in float64, then the rounding to float32 (a C cast, as ``struct`` does).
"""

from __future__ import annotations

import hashlib
import math
import sys
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from ..generation import vectors
from . import chunk_words

BATCH = 512  # chunks a matrix holds (512 x 1,024 float64: 4 MB, within the caches)
# Words an Embedder's vocabulary holds before it starts afresh (a file of ids rather than words):
# with their directions and the hash table, ~200 bytes a word, 25 MB.
MOST_WORDS = 1 << 17
_COMPENSATED_SUM = sys.version_info >= (3, 12)  # the interpreter's float sum() is Neumaier's since 3.12


def packed_vectors(texts: Sequence[str], size: int) -> bytes:
    """The float32 vectors of ``texts`` at ``size`` dimensions, packed one after the other
    (little-endian): ``b"".join(pack_float32(embed_uncached(t, size, size)) for t in texts)``."""
    out = np.empty((len(texts), size), dtype="<f4")
    embedder = Embedder(size, min(len(texts), BATCH))
    for start in range(0, len(texts), BATCH):
        embedder.into(texts[start:start + BATCH], out[start:start + BATCH])
    return out.tobytes()


class Embedder:
    """The vectors of chunks, batch after batch, in working arrays made once for all the batches.

    A server process has glibc map and unmap every block of 64 KB or more
    (``stack.release_freed_memory``), so an array made afresh for every batch would cost a page
    fault every 4 KB it is written: measured, as much time as the arithmetic itself."""

    def __init__(self, size: int, chunks: int = BATCH):
        self.size = size
        self._squares = np.empty(chunks * size, dtype=np.float64)
        self._sums = np.empty(0 if _COMPENSATED_SUM else chunks * size, dtype=np.float64)
        # What ``np.bincount`` adds up: every cell of the batch's matrix once, its dense part (the
        # cells' own numbers, ``_ranged`` of them in place), then each word's weight at each of its
        # places, in order.
        self._positions = np.empty(0, dtype=np.intp)
        self._weights = np.empty(0, dtype=np.float64)
        self._ranged = 0
        self._vocabulary = chunk_words.Vocabulary()
        # The directions of the vocabulary's first ``_directed`` words (row i: word i's).
        self._places = np.empty((0, vectors._SPREAD), dtype=np.intp)
        self._signs = np.empty((0, vectors._SPREAD), dtype=np.float64)
        self._directed = 0

    def into(self, texts: Sequence[str], out: np.ndarray) -> None:
        """Write the vectors of ``texts`` (at most the ``chunks`` it was made for) into ``out``, a
        float32 array of ``len(texts)`` rows of ``size``."""
        count, size = len(texts), self.size
        if not count:
            return
        if len(self._vocabulary.words) > MOST_WORDS:
            self._vocabulary, self._directed = chunk_words.Vocabulary(), 0
        found = chunk_words.counted(texts, self._vocabulary)
        cells = count * size
        touched = len(found.ids) * vectors._SPREAD
        if len(self._positions) < cells + touched:
            room = cells + touched + touched // 4
            self._positions = np.empty(room, dtype=np.intp)
            self._weights = np.empty(room, dtype=np.float64)
            self._ranged = 0
        if self._ranged < cells:
            self._positions[self._ranged:cells] = np.arange(self._ranged, cells)
        self._ranged = cells

        noise = b"".join(hashlib.shake_256(b"text:" + t.encode("utf-8")).digest(2 * size) for t in texts)
        matrix: np.ndarray = self._weights[:cells]
        np.copyto(matrix, np.frombuffer(noise, dtype="<u2"))
        matrix -= 32768.0
        matrix *= vectors._BACKGROUND / 32768

        if touched:
            places, signs = self._directions(found.words)
            spread = self._positions[cells:cells + touched].reshape(len(found.ids), vectors._SPREAD)
            np.take(places, found.ids, axis=0, out=spread)
            spread += (found.chunks * size)[:, None]
            spread_weights = self._weights[cells:cells + touched].reshape(len(found.ids), vectors._SPREAD)
            np.take(signs, found.ids, axis=0, out=spread_weights)
            spread_weights *= np.sqrt(found.times)[:, None]
            # Each cell's sum in the order of the list: 0 + its dense part (that part exactly), then
            # its words' weights one after the other, as ``np.add.at`` on the dense part adds them;
            # but without the GIL, which ``np.add.at`` holds (a second thread's batch goes on meanwhile).
            matrix = np.bincount(self._positions[:cells + touched], self._weights[:cells + touched],
                                 minlength=cells)

        rows = matrix.reshape(count, size)
        norms = np.sqrt(self._sums_of_squares(rows))
        norms[norms == 0] = 1.0
        rows /= norms[:, None]
        np.copyto(out, rows, casting="same_kind")  # rounded to float32 (a C cast, as ``struct`` does)

    def _directions(self, words: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
        """The directions of ``words`` (the vocabulary's), those of its new words computed now."""
        if len(words) > self._directed:
            if len(words) > len(self._places):
                rows = max(len(words), 2 * len(self._places))
                self._places = np.resize(self._places[:self._directed], (rows, vectors._SPREAD))
                self._signs = np.resize(self._signs[:self._directed], (rows, vectors._SPREAD))
            new = slice(self._directed, len(words))
            self._places[new], self._signs[new] = _directions(words[new], self.size)
            self._directed = len(words)
        return self._places, self._signs

    def _sums_of_squares(self, rows: np.ndarray) -> np.ndarray:
        """``sum(v * v for v in row)`` of every row, as the interpreter adds them: left to right (an
        accumulation is that order by definition), with Neumaier's compensation from Python 3.12."""
        count, size = rows.shape
        if _COMPENSATED_SUM:
            columns = self._squares[:count * size].reshape(size, count)  # a column a row: a sum step a row
            np.multiply(rows.T, rows.T, out=columns)
            return _compensated_sums(columns)
        squares = self._squares[:count * size].reshape(count, size)
        np.multiply(rows, rows, out=squares)
        sums = self._sums[:count * size].reshape(count, size)
        np.add.accumulate(squares, axis=1, out=sums)
        return sums[:, -1].copy()


@lru_cache(maxsize=1 << 16)
def _word_digest(word: bytes) -> bytes:
    """The hash a word's direction is read from, cached: a corpus's words recur in every batch, and
    hashing each batch's distinct words again was a sixth of the batch's time."""
    return hashlib.shake_256(b"word:" + word).digest(4 * vectors._SPREAD)


def _directions(words: list[bytes], size: int) -> tuple[np.ndarray, np.ndarray]:
    """Each word's ``vectors._direction``: (positions, signed weights), ``len(words)`` x 8 each."""
    spread = vectors._SPREAD
    digests = b"".join(map(_word_digest, words))
    values = np.frombuffer(digests, dtype="<u4").reshape(len(words), spread)
    scale = 1 / math.sqrt(spread)
    signs = np.where(values & 0x80000000, scale, -scale)
    return (values % size).astype(np.intp), signs


def _compensated_sums(columns: np.ndarray) -> np.ndarray:
    """``sum(row)`` of every row of ``columns.T`` (a row's squares) as the interpreter adds them from
    Python 3.12: left to right, with Neumaier's compensation."""
    total = columns[0].copy()
    compensation = np.zeros_like(total)
    for x in columns[1:]:
        t = total + x
        compensation += np.where(np.abs(total) >= np.abs(x), (total - t) + x, (x - t) + total)
        total = t
    finite = np.isfinite(compensation) & (compensation != 0)
    total[finite] += compensation[finite]
    return total
