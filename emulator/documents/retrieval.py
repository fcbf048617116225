"""Hybrid retrieval: the chunks that best answer a query, for every search of the emulator.

``Retrieval.search`` is what ``query``, ``document-search``, ``ask-question``, v3 ``GET /files?search=``,
``filter/chunks``, ``retrieve`` and the v3 turns' document search all call. A chunk's rank fuses
two scores, as Paradigm's search does (its v3 results carry ``lexical_score`` beside ``distance``):

    vector    the cosine between the query's /embeddings vector and the chunk's
    lexical   BM25 of the query's words in the chunk (``lexical.py``: SQLite FTS5), over every
              searchable chunk, so a word that only one file holds weighs the most

    score = ALPHA * cosine + (1 - ALPHA) * lexical / (the best lexical score among the candidates)

A rare word of the query therefore brings the one chunk that holds it first, where a hashed
bag-of-words vector alone lets the common words of a longer chunk outweigh it. Everything is
deterministic: the same files and query give the same scores, rounded to 6 decimals, ties broken
by the older file, then the earlier chunk. ``distance`` is 1 - cosine and ``certainty``
(1 + cosine) / 2, the names vector databases (and Paradigm's v3 ``scoring``) give them.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import struct
import time
from collections.abc import Collection

from ..generation import vectors as embedding
from ..identity.ownership import visible
from ..identity.users import User
from .ingestion import Ingestion
from .store import EMBEDDED, FileRecord, FileStore, Hit

ALPHA = 0.5  # the vector score's weight in the fused score
OFF_LOOP_CHUNKS = 4096  # more chunks than this are scored in a thread


class Retrieval:
    """The hybrid search over the file store's embedded files (their ingestion waited for)."""

    def __init__(self, files: FileStore, ingestion: Ingestion):
        self.files, self.ingestion = files, ingestion

    async def search(self, query: str, *, file_ids: Collection[int] | None = None, n: int = 5,
                     viewer: User | None = None) -> list[Hit]:
        """The ``n`` chunks that best answer ``query``, best first, among the embedded files (all of
        them, or those ``file_ids`` names; of those, only the ones ``viewer`` may see, when given); a
        file whose ingestion time is up is waited for."""
        if n <= 0 or (file_ids is not None and not file_ids):
            return []
        everything = await self.files.all()
        wanted = None if file_ids is None else set(file_ids)
        candidates = await self.ingestion.ready(r for r in everything if (wanted is None or r.id in wanted)
                                                and visible(r.extra, viewer))
        await self.index(candidates, everything)
        return await self.rank(query, candidates, n)

    async def index(self, candidates: list[FileRecord], everything: list[FileRecord]) -> None:
        """Make this process's caches (vectors, lexical index) match the searchable files, so that BM25's
        statistics are those of every file embedded now (``candidates`` and the others of
        ``everything``), on every worker alike. Files still ingesting are not waited for here."""
        files, ingestion = self.files, self.ingestion
        now = await ingestion.now()
        corpus = {r.key: r for r in everything if ingestion.status(r, now) == EMBEDDED}
        corpus.update((r.key, r) for r in candidates)
        for key, record in corpus.items():
            if not files.lexical.has(key):
                await files.lexical.add(key, [c.text for c in await files.chunks(record)])
        files.keep_only(set(corpus))

    async def rank(self, query: str, records: list[FileRecord], n: int) -> list[Hit]:
        """The best ``n`` chunks of ``records`` (embedded files, indexed by ``index``) for ``query``."""
        if n <= 0 or not records:
            return []
        files = self.files
        vector = tuple(embedding.embed(query, self.ingestion.dimensions))
        lexical = await files.lexical.scores(query, [r.key for r in records])
        searched = []
        for record in records:
            vectors = await files.vectors(record)
            if vectors:
                searched.append((record, vectors, files.packed(record)))
        # Tens of thousands of chunks take tens of ms to score: then in a thread, off the event loop.
        if sum(len(v) for _, v, _ in searched) > OFF_LOOP_CHUNKS:
            loop = asyncio.get_running_loop()
            best = await loop.run_in_executor(None, _best, vector, searched, lexical, n)
        else:
            best = _best(vector, searched, lexical, n)
        hits = []
        for fused, _, negative_index, cosine, bm25, record in best:
            chunk = (await files.chunks(record))[-negative_index]
            hits.append(Hit(score=fused, distance=round(1 - cosine, 6), lexical_score=bm25,
                            certainty=round((1 + cosine) / 2, 6), record=record, chunk=chunk))
        return hits


def _best(vector: tuple[float, ...], searched: list[tuple[FileRecord, list, bytes]],
          lexical: dict[tuple[str, int], float], n: int) -> list[tuple]:
    """The ``n`` best (fused, -file id, -chunk index, cosine, bm25, record) of the chunks searched."""
    query_norm2 = math.fsum(v * v for v in vector)
    if not query_norm2:
        return []
    query_norm = math.sqrt(query_norm2)
    best_lexical = max(lexical.values(), default=0.0)
    size = len(vector)
    scored = []
    dist = math.dist
    for record, vectors, packed in searched:
        for index, (chunk_vector, norm2) in enumerate(vectors):
            if index % 256 == 255:
                time.sleep(0)  # in a thread: hand the GIL to the event loop now and then
            if not norm2:
                continue
            if chunk_vector is None:  # beyond the decoded budget: decoded as it is searched
                chunk_vector = struct.unpack_from(f"<{size}f", packed, index * size * 4)
            if len(chunk_vector) != size:
                continue
            # |q - c|^2 = |q|^2 + |c|^2 - 2 q.c: one C call per chunk instead of a Python loop.
            d = dist(vector, chunk_vector)
            cosine = (query_norm2 + norm2 - d * d) / 2 / (query_norm * math.sqrt(norm2))
            bm25 = lexical.get((record.key, index), 0.0)
            fused = ALPHA * cosine + (1 - ALPHA) * (bm25 / best_lexical if best_lexical else 0.0)
            scored.append((round(fused, 6), -record.id, -index, round(cosine, 6), round(bm25, 6), record))
    return heapq.nlargest(n, scored, key=lambda s: s[:3])
