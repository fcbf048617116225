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
from collections.abc import Sequence
from functools import lru_cache

_WORD = re.compile(r"\w+", re.UNICODE)
_SPREAD = 8  # dimensions each word touches
_BACKGROUND = 0.08  # weight of the text-specific dense part, against the words' unit weight


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
    key = item if isinstance(item, str) else tuple(item)
    dimensions = dimensions or size
    if len(key) > CACHE_TEXT_CHARS:
        return embed_uncached(key, size, dimensions)
    packed = _cached(key, size, dimensions)
    return list(struct.unpack(f"<{len(packed) // 4}f", packed))


@lru_cache(maxsize=CACHED_VECTORS)
def _cached(item: str | tuple[int, ...], size: int, dimensions: int) -> bytes:
    return pack_float32(embed_uncached(item, size, dimensions))


def embed_uncached(item: str | Sequence[int], size: int, dimensions: int) -> list[float]:
    """The vector, computed afresh (ingestion embeds each chunk once and keeps it: no cache)."""
    text = item if isinstance(item, str) else " ".join(map(str, item))
    noise = hashlib.shake_256(b"text:" + text.encode("utf-8")).digest(2 * size)
    vector = [(v - 32768) * (_BACKGROUND / 32768) for v in struct.unpack(f"<{size}H", noise)]
    counts: dict[str, int] = {}
    for feature in features(item):
        counts[feature] = counts.get(feature, 0) + 1
    for feature, times in counts.items():
        weight = math.sqrt(times)
        for index, sign in _direction(feature, size):
            vector[index] += sign * weight
    vector = vector[:dimensions]
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return _float32([v / norm for v in vector])


_SCALE = 1 / math.sqrt(_SPREAD)
_WORDS_OF_DIGEST = struct.Struct(f"<{_SPREAD}I")


def _direction(feature: str, size: int) -> tuple[tuple[int, float], ...]:
    return tuple((value % size, _SCALE if value & 0x80000000 else -_SCALE)
                 for value in _WORDS_OF_DIGEST.unpack(_digest(feature)))


@lru_cache(maxsize=CACHED_DIRECTIONS)
def _digest(feature: str) -> bytes:
    """What a word's direction is made of, cached as one small bytes object: the ~25 objects of a
    decoded direction, made in the middle of a large batch's transient floats, would each keep one
    of the allocator's 1 MB arenas alive after the batch is gone (measured: ~80 MB after forty
    1,000-input batches, 11 MB with one object an entry)."""
    return hashlib.shake_256(b"word:" + feature.encode("utf-8")).digest(4 * _SPREAD)


def pack_float32(vector: Sequence[float]) -> bytes:
    return struct.pack(f"<{len(vector)}f", *vector)


def _float32(vector: list[float]) -> list[float]:
    return list(struct.unpack(f"<{len(vector)}f", pack_float32(vector)))


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=False))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na and nb else 0.0
