"""The vectors of many chunks at once, in numpy: bit for bit those of ``generation.vectors.embed``.

Ingestion embeds thousands of chunks a file. ``embed_uncached`` builds one vector at a time (~110 µs
a chunk of ~1,200 characters at 1,024 dimensions; ~60 µs in a batch): a batch of chunks is one matrix, and
every step does the very floating-point operations ``embed_uncached`` does, in the same order, so
the result is the same float32 values to the last bit (``tests/test_chunk_vectors.py`` compares):

* the dense part: the same shake-256 bytes, ``(v - 32768) * (0.08 / 32768)`` in float64;
* the words: each distinct word's 8 signed directions times ``sqrt(count)``, added in place with
  ``np.add.at``, which adds repeated positions one after the other, in the words' first-seen order
  (the order of the Python loop), since float addition is not associative;
* the norm: the squares summed left to right as the interpreter's ``sum`` does (plainly before
  Python 3.12, with Neumaier's compensation from 3.12 on), one column of the batch at a time;
* the division by the norm in float64, then the rounding to float32 (a C cast, as ``struct`` does).
"""

from __future__ import annotations

import hashlib
import math
import sys
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from itertools import chain
from itertools import count as count_from

import numpy as np

from ..generation import vectors

BATCH = 512  # chunks a matrix holds (512 x 1,024 float64: 4 MB, within the caches)
_COMPENSATED_SUM = sys.version_info >= (3, 12)  # the interpreter's float sum() is Neumaier's since 3.12


# Lowercases an ASCII text and blanks every byte ``\w`` does not match (on ASCII, \w is
# [A-Za-z0-9_]): its ``split()`` is then exactly the lowercased words ``vectors.features`` finds.
_ASCII_WORDS = bytes(c + 32 if 65 <= c <= 90 else c if chr(c).isalnum() or c == 95 else 32
                     for c in range(128)) + b" " * 128


def _features(text: str) -> list[bytes]:
    """``vectors.features(text)``, each word UTF-8 encoded (the bytes its direction is hashed from)."""
    if text.isascii():
        return text.encode("ascii").translate(_ASCII_WORDS).split()
    return [word.encode("utf-8") for word in vectors.features(text)]


def packed_vectors(texts: Sequence[str], size: int) -> bytes:
    """The float32 vectors of ``texts`` at ``size`` dimensions, packed one after the other
    (little-endian): ``b"".join(pack_float32(embed_uncached(t, size, size)) for t in texts)``."""
    parts = [_batch(texts[start:start + BATCH], size) for start in range(0, len(texts), BATCH)]
    return b"".join(parts)


def _batch(texts: Sequence[str], size: int) -> bytes:
    count = len(texts)
    if not count:
        return b""
    noise = b"".join(hashlib.shake_256(b"text:" + t.encode("utf-8")).digest(2 * size) for t in texts)
    matrix = np.frombuffer(noise, dtype="<u2").astype(np.float64)
    matrix -= 32768.0
    matrix *= vectors._BACKGROUND / 32768

    # Every (chunk, distinct word, count), in each chunk's first-seen order (a Counter keeps it), the
    # words numbered by one dict for the whole batch.
    counted = [Counter(_features(text)) for text in texts]
    pairs = sum(map(len, counted))
    if pairs:
        numbers: dict[bytes, int] = {}
        numbered = np.fromiter(map(numbers.setdefault, chain.from_iterable(counted), count_from(0)),
                               dtype=np.intp, count=pairs)
        dense = np.empty(pairs, dtype=np.intp)  # a word's first number -> its place in ``numbers``
        dense[np.fromiter(numbers.values(), dtype=np.intp, count=len(numbers))] = np.arange(len(numbers))
        ids = dense[numbered]
        times = np.fromiter(chain.from_iterable(c.values() for c in counted), dtype=np.float64, count=pairs)
        rows = np.repeat(np.arange(count, dtype=np.intp) * size,
                         np.fromiter(map(len, counted), dtype=np.intp, count=count))
        places, signs = _directions(list(numbers), size)
        positions = places[ids] + rows[:, None]
        np.add.at(matrix, positions.ravel(), (signs[ids] * np.sqrt(times)[:, None]).ravel())

    matrix = matrix.reshape(count, size)
    norms = np.sqrt(_row_sums_of_squares(matrix))
    norms[norms == 0] = 1.0
    return (matrix / norms[:, None]).astype("<f4").tobytes()


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


def _row_sums_of_squares(matrix: np.ndarray) -> np.ndarray:
    """``sum(v * v for v in row)`` of every row, as the interpreter adds them: left to right."""
    columns = np.ascontiguousarray((matrix * matrix).T)  # a column a row: each step adds one contiguous row
    total = columns[0].copy()
    if not _COMPENSATED_SUM:
        for x in columns[1:]:
            total += x
        return total
    compensation = np.zeros_like(total)
    for x in columns[1:]:
        t = total + x
        compensation += np.where(np.abs(total) >= np.abs(x), (total - t) + x, (x - t) + total)
        total = t
    finite = np.isfinite(compensation) & (compensation != 0)
    total[finite] += compensation[finite]
    return total
