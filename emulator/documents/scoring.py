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
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController

from .lexical import Matches
from .matrix import Block
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


def cosines(vector: Sequence[float], blocks: Sequence[Block]) -> np.ndarray:
    """The approximate cosine of ``vector`` with every chunk of ``blocks``, one after the other (NaN
    for a zero vector): the heavy part of a search, the matrix products (numpy releases the GIL)."""
    query = np.asarray(vector, dtype=np.float32)
    norm = math.sqrt(math.fsum(v * v for v in vector))
    if not blocks:
        return np.zeros(0, dtype=np.float64)
    with _one_thread():
        dots = np.concatenate(_products(query, list(blocks))).astype(np.float64)
    norms = np.concatenate([block.norms[block.rows.start:block.rows.stop] for block in blocks])
    with np.errstate(divide="ignore", invalid="ignore"):
        out = dots / (norm * norms.astype(np.float64))
    out[norms == 0] = np.nan
    return out


def best(vector: Sequence[float], searched: Sequence[tuple[FileRecord, Block]],
         approximate_cosines: np.ndarray, matches: Matches, n: int, alpha: float) -> list[Scored]:
    """The ``n`` best chunks of the uploads ``searched`` (each with its vectors, and the ``cosines`` of
    them all), best first, ranked by (fused score, older file, earlier chunk)."""
    query = tuple(vector)
    query_norm2 = math.fsum(v * v for v in query)
    if not query_norm2 or not searched or n <= 0:
        return []
    # Where each upload's chunks begin among all those searched.
    offsets = np.cumsum([0] + [len(block.rows) for _, block in searched])
    lexical = np.zeros(len(approximate_cosines), dtype=np.float64)
    if matches.best:
        position = {record.key: i for i, (record, _) in enumerate(searched)}
        slot_to_offset = np.array([offsets[position[k]] if k in position else -1 for k in matches.keys],
                                  dtype=np.int64)
        at = slot_to_offset[matches.slots]
        known = at >= 0
        places = at[known] + matches.indices[known]
        lexical[places] = matches.scores[known]
    lexical_part = lexical / matches.best if matches.best else 0.0
    approximate = alpha * approximate_cosines + (1 - alpha) * lexical_part
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
        block = searched[upload][1]
        found = exact(query, query_norm2, block.vectors[block.rows.start + index].tolist(),
                      float(lexical[place]), matches.best, alpha)
        if found is not None:
            cosine, bm25, fused = found
            scored.append(Scored(fused, record.id, index, cosine, bm25, record))
    return heapq.nlargest(n, scored, key=Scored.key)


_blas: ThreadpoolController | None = None


def _one_thread() -> Any:
    """A context in which BLAS uses the calling thread only. An upload's rows are a matrix-vector
    product each; OpenBLAS splits every one of them over its threads, whose start, spin and join
    cost ~10 times the product itself on 1,000 rows (measured: 414 ms of CPU against 33 for
    100,000 rows in 100 products), and a search is one request among others anyway."""
    global _blas
    if _blas is None:
        _blas = ThreadpoolController()
    return _blas.limit(limits=1, user_api="blas")


def _products(query: np.ndarray, blocks: list[Block]) -> list[np.ndarray]:
    """Each block's rows times ``query`` (float32); the shared matrix's rows in one product when
    many uploads share it."""
    shared = [b for b in blocks if b.shared]
    whole: dict[int, np.ndarray] = {}
    if len(shared) > 8:
        for matrix in {id(b.vectors): b.vectors for b in shared}.values():
            used = max(b.rows.stop for b in shared if b.vectors is matrix)
            whole[id(matrix)] = matrix[:used] @ query
    out = []
    for b in blocks:
        product = whole.get(id(b.vectors)) if b.shared else None
        if product is not None:
            out.append(product[b.rows.start:b.rows.stop])
        else:
            out.append(b.vectors[b.rows.start:b.rows.stop] @ query)
    return out


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
