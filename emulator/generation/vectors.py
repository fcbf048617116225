"""Deterministic embeddings whose geometry means something.

A vector is the sum of one sparse signed direction per word (feature hashing),
plus a small dense component unique to the whole text, normalised to unit length
and rounded to float32 (what a real model server returns, and what makes the
``base64`` and ``float`` encodings decode to exactly the same numbers). Texts that
share words are therefore closer, by cosine, than texts that share none: a
retrieval test against the emulator ranks the right document first.
"""

from __future__ import annotations

import hashlib
import math
import re
import struct
import sys
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

_WORD = re.compile(r"\w+", re.UNICODE)
_SPREAD = 8  # dimensions each word touches
_BACKGROUND = 0.08  # weight of the text-specific dense part, against the words' unit weight
_SCALE = 1 / math.sqrt(_SPREAD)  # a word's weight in each of its dimensions
_SIGNED_SCALE = np.array([-_SCALE, _SCALE])
_COMPENSATED_SUM = sys.version_info >= (3, 12)  # the interpreter's float sum() is Neumaier's since 3.12


def features(item: str | Sequence[int]) -> list[str]:
    if isinstance(item, str):
        return [w.lower() for w in _WORD.findall(item)]
    return [f"#{token}" for token in item]


# The cache serves repeated /embeddings inputs. It is bounded in bytes, not only in entries: a
# vector is kept packed (4 bytes a dimension, not a tuple of Python floats at 32), and a text longer
# than CACHE_TEXT_CHARS is never kept (a 5 MB input would otherwise stay as a key). At most
# 2,048 x (4 KB + 2 KB), 12 MB (measured: ~4.5 KB an entry for short texts, 9 MB).
CACHE_TEXT_CHARS = 2048
CACHED_VECTORS = 2048
# A word's direction's digest, cached: ~250 bytes each with its key and the cache's link (measured),
# 8,192 of them 2 MB. A miss costs one shake_256 (a few µs).
CACHED_DIRECTIONS = 8192


def embed(item: str | Sequence[int], size: int, dimensions: int | None = None) -> list[float]:
    return embed_array(item, size, dimensions).tolist()


def embed_array(item: str | Sequence[int], size: int, dimensions: int | None = None) -> np.ndarray:
    """The vector as a read-only float32 array (``embed`` is its ``tolist()``)."""
    key = item if isinstance(item, str) else tuple(item)
    dimensions = dimensions or size
    if len(key) > CACHE_TEXT_CHARS:
        return _computed(key, size, dimensions)
    return np.frombuffer(_cached(key, size, dimensions), dtype="<f4")


@lru_cache(maxsize=CACHED_VECTORS)
def _cached(item: str | tuple[int, ...], size: int, dimensions: int) -> bytes:
    return _computed(item, size, dimensions).tobytes()


def embed_uncached(item: str | Sequence[int], size: int, dimensions: int) -> list[float]:
    """The vector, computed afresh (ingestion embeds each chunk once and keeps it: no cache)."""
    return _computed(item, size, dimensions).tolist()


def _computed(item: str | Sequence[int], size: int, dimensions: int) -> np.ndarray:
    """The float64 operations of the definition (each component the dense part, then every word's
    signed weights added one after the other, in the words' first-seen order; the norm's squares
    summed left to right, as the interpreter's ``sum`` does), in numpy, then rounded to float32:
    the very bits a float-at-a-time Python loop gives (``tests/test_vectors.py`` compares)."""
    text = item if isinstance(item, str) else " ".join(map(str, item))
    noise = hashlib.shake_256(b"text:" + text.encode("utf-8")).digest(2 * size)
    vector = np.frombuffer(noise, dtype="<u2").astype(np.float64)
    vector -= 32768.0
    vector *= _BACKGROUND / 32768
    counts = Counter(features(item))  # first-seen order, the order the additions are made in
    if counts:
        digests = np.frombuffer(b"".join(map(_digest, counts)), dtype="<u4").reshape(len(counts), _SPREAD)
        weights = np.sqrt(np.array(list(counts.values()), dtype=np.float64))
        steps = _SIGNED_SCALE[digests >> 31] * weights[:, None]  # the top bit: the sign
        # ufunc.at adds at repeated positions one after the other, in order: float addition is not
        # associative, and a word may land where another already did.
        np.add.at(vector, (digests % size).ravel(), steps.ravel())
    vector = vector[:dimensions]
    norm = math.sqrt(_sum_left_to_right(vector * vector)) or 1.0
    return (vector / norm).astype("<f4")


def _sum_left_to_right(values: np.ndarray) -> float:
    """``sum(values.tolist())``: before Python 3.12 a plain left-to-right addition, which numpy's
    ``add.accumulate`` is (its ``sum`` adds pairwise: other bits); from 3.12 the interpreter's own
    compensated sum."""
    if _COMPENSATED_SUM or not len(values):
        return float(sum(values.tolist()))
    return float(np.add.accumulate(values)[-1])



@lru_cache(maxsize=CACHED_DIRECTIONS)
def _digest(feature: str) -> bytes:
    """What a word's direction is made of, cached as one small bytes object: the ~25 objects of a
    decoded direction, made in the middle of a large batch's transient floats, would each keep one
    of the allocator's 1 MB arenas alive after the batch is gone (measured: ~80 MB after forty
    1,000-input batches, 11 MB with one object an entry)."""
    return hashlib.shake_256(b"word:" + feature.encode("utf-8")).digest(4 * _SPREAD)


def pack_float32(vector: Sequence[float]) -> bytes:
    return struct.pack(f"<{len(vector)}f", *vector)


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=False))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na and nb else 0.0
