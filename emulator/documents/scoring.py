"""Retrieval's fused scores over the vector matrix: approximate for every chunk, exact for the best.

The exact score of a chunk (``exact``) is computed in Python floats, as it always was: the cosine
from ``math.dist`` between the query's vector and the chunk's float32 values, BM25 from the
lexical index, fused and rounded to 6 decimals. Computing it for 100,000 chunks takes seconds, so:

1. one float32 matrix-vector product scores every chunk approximately: its fused score is within
   ``ERROR`` of the exact one (a float32 dot product of n terms errs by at most n * 2**-24 times
   the product of the norms: 6.1e-5 for 1,024 dimensions; the cosine weighs ALPHA of the score);
2. the chunks whose approximate score is within ``MARGIN`` of the n-th best approximate one are
   scored exactly, and the n best of them are the answer.

No chunk left out in step 2 can be among the n best: n chunks score at least the n-th best
approximate score, so exactly at least that minus ERROR, above anything left out (which scores
below it minus MARGIN plus ERROR, MARGIN > 2 * ERROR + the 6-decimal rounding). The answer is
therefore the one scoring every chunk exactly gives, ties and their order included.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .lexical import Matches
from .matrix import Snapshot
from .store import FileRecord


def error_bound(dimensions: int, alpha: float) -> float:
    """How far an approximate fused score may be from the exact one (float32 dot product and norms)."""
    return alpha * (dimensions * 2.0 ** -24 * 1.01 + 1e-6)


@dataclass(frozen=True)
class Scored:
    """One chunk's exact scores, as a sortable tuple's parts."""

    fused: float
    file_id: int
    index: int
    cosine: float
    bm25: float
    record: FileRecord

    def key(self) -> tuple[float, int, int]:
        return (self.fused, -self.file_id, -self.index)


def best(vector: Sequence[float], snapshot: Snapshot, searched: Sequence[tuple[FileRecord, range]],
         matches: Matches, n: int, alpha: float) -> list[Scored]:
    """The ``n`` best chunks of the uploads ``searched`` (each with its rows of the matrix), best first,
    ranked by (fused score, older file, earlier chunk)."""
    query = tuple(vector)
    query_norm2 = math.fsum(v * v for v in query)
    if not query_norm2 or not searched or n <= 0:
        return []
    # Every searched chunk, in one array: its row of the matrix; and where each upload's begin.
    offsets = np.cumsum([0] + [len(rows) for _, rows in searched])
    rows = np.concatenate([np.arange(r.start, r.stop, dtype=np.int64) for _, r in searched])
    vectors = snapshot.vectors
    used = max(r.stop for _, r in searched)
    q32 = np.asarray(query, dtype=np.float32)
    if len(rows) * 2 >= used:
        dots = (vectors[:used] @ q32)[rows]  # most of the matrix: one product, then the rows wanted
    else:
        dots = np.concatenate([vectors[r.start:r.stop] @ q32 for _, r in searched])
    norms = snapshot.norms[rows].astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        cosines = dots.astype(np.float64) / (math.sqrt(query_norm2) * norms)
    lexical = np.zeros(len(rows), dtype=np.float64)
    if matches.best:
        position = {key: i for i, (record, _) in enumerate(searched) for key in (record.key,)}
        slot_to_offset = np.array([offsets[position[k]] if k in position else -1 for k in matches.keys],
                                  dtype=np.int64)
        at = slot_to_offset[matches.slots]
        known = at >= 0
        places = at[known] + matches.indices[known]
        lexical[places] = matches.scores[known]
    approximate = alpha * cosines + (1 - alpha) * (lexical / matches.best if matches.best else 0.0)
    approximate[norms == 0] = -np.inf
    approximate[np.isnan(approximate)] = -np.inf
    if len(approximate) > n:
        nth = np.partition(approximate, len(approximate) - n)[len(approximate) - n]
        if not np.isfinite(nth):
            nth = -np.inf
    else:
        nth = -np.inf
    margin = 2 * error_bound(len(query), alpha) + 2e-6
    chosen = np.nonzero((approximate >= nth - margin) & np.isfinite(approximate))[0]
    which = np.searchsorted(offsets, chosen, side="right") - 1
    scored = []
    for place, upload in zip(chosen.tolist(), which.tolist(), strict=True):
        record = searched[upload][0]
        index = place - int(offsets[upload])
        found = exact(query, query_norm2, vectors[int(rows[place])].tolist(), float(lexical[place]),
                      matches.best, alpha)
        if found is not None:
            cosine, bm25, fused = found
            scored.append(Scored(fused, record.id, index, cosine, bm25, record))
    return heapq.nlargest(n, scored, key=Scored.key)


def exact(query: tuple[float, ...], query_norm2: float, chunk: list[float], bm25: float,
          best_lexical: float, alpha: float) -> tuple[float, float, float] | None:
    """(cosine, bm25, fused) of one chunk, rounded to 6 decimals; None for a zero vector."""
    norm2 = math.fsum(v * v for v in chunk)
    if not norm2:
        return None
    # |q - c|^2 = |q|^2 + |c|^2 - 2 q.c: one C call per chunk instead of a Python loop.
    d = math.dist(query, chunk)
    cosine = (query_norm2 + norm2 - d * d) / 2 / (math.sqrt(query_norm2) * math.sqrt(norm2))
    fused = alpha * cosine + (1 - alpha) * (bm25 / best_lexical if best_lexical else 0.0)
    return round(cosine, 6), round(bm25, 6), round(fused, 6)
