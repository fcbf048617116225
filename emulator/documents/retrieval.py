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
from collections.abc import Collection

from ..generation import vectors as embedding
from ..identity.users import User
from . import scoring
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
        named = (r for r in everything if wanted is None or r.id in wanted)
        candidates = await self.ingestion.ready(await self.files.visible_to(named, viewer))
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
        dimensions = self.ingestion.dimensions
        vector = tuple(embedding.embed(query, dimensions))
        # BM25 on the lexical index's thread while the vectors are scored (in a thread of their own when
        # there are tens of thousands: the matrix products are fast, but not nothing).
        lexical = asyncio.ensure_future(files.lexical.matches(query, [r.key for r in records]))
        try:
            searched = []
            for record in records:
                block = await files.vectors(record, dimensions)
                if block is not None and len(block.rows):
                    searched.append((record, block))
            blocks = [block for _, block in searched]
            if sum(len(block.rows) for block in blocks) > OFF_LOOP_CHUNKS:
                loop = asyncio.get_running_loop()
                cosines = await loop.run_in_executor(None, scoring.cosines, vector, blocks)
            else:
                cosines = scoring.cosines(vector, blocks)
            matches = await lexical
        finally:
            lexical.cancel()
        best = scoring.best(vector, searched, cosines, matches, n, ALPHA)
        hits = []
        for found in best:
            chunk = (await files.chunks(found.record))[found.index]
            hits.append(Hit(score=found.fused, distance=round(1 - found.cosine, 6), lexical_score=found.bm25,
                            certainty=round((1 + found.cosine) / 2, 6), record=found.record, chunk=chunk))
        return hits
