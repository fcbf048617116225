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

The answers of the last searches are kept, keyed on all they depend on: the query, how many
chunks were asked for, the uploads searched and the uploads BM25's statistics count. An upload's
key (id and nonce) names content that never changes, so a kept answer is never stale; a new,
deleted or newly embedded file makes the next search a new one. The search itself reads the
shared clock once, when no file has to be waited for.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Collection

from ..generation import vectors as embedding
from ..identity.users import User
from . import scoring
from .ingestion import Ingestion
from .store import EMBEDDED, FileRecord, FileStore, Hit

ALPHA = 0.5  # the vector score's weight in the fused score
OFF_LOOP_CHUNKS = 4096  # more chunks than this are scored in a thread
MEMO_SEARCHES = 256  # answers of the last searches kept
MEMO_HITS = 1000  # a longer answer (every chunk of the files, for a filter) is not kept
# A kept hit: its upload's key, the chunk's index and its scores (score, distance, lexical, certainty).
_Kept = tuple[str, int, float, float, float, float]


class Retrieval:
    """The hybrid search over the file store's embedded files (their ingestion waited for)."""

    def __init__(self, files: FileStore, ingestion: Ingestion):
        self.files, self.ingestion = files, ingestion
        # The last searches' answers (least recently asked dropped first), for suites and load tests
        # that ask the same questions of the same files again and again.
        self._memo: OrderedDict[tuple[str, int, bytes], tuple[_Kept, ...]] = OrderedDict()

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
        candidates, now = await self.ingestion.ready_at(await self.files.visible_to(named, viewer))
        corpus = await self.index(candidates, everything, now)
        # Everything the answer depends on: the query, n, the files searched and those BM25 counts (a
        # digest of their keys). An upload's key names its very content, which never changes:
        # nothing to invalidate.
        memo_key = (query, n, _digest([r.key for r in candidates], sorted(corpus)))
        kept = self._memo.get(memo_key)
        if kept is not None:
            self._memo.move_to_end(memo_key)
            return await self._hits(kept, candidates)
        hits = await self.rank(query, candidates, n)
        if len(hits) <= MEMO_HITS:
            self._memo[memo_key] = tuple((h.record.key, h.chunk.index, h.score, h.distance, h.lexical_score,
                                          h.certainty) for h in hits)
            if len(self._memo) > MEMO_SEARCHES:
                self._memo.popitem(last=False)
        return hits

    async def _hits(self, kept: tuple[_Kept, ...], candidates: list[FileRecord]) -> list[Hit]:
        """A kept answer's hits, with the files' records as they are now (their names may have changed)."""
        by_key = {r.key: r for r in candidates}
        hits = []
        for key, index, score, distance, lexical_score, certainty in kept:
            record = by_key[key]
            hits.append(Hit(score=score, distance=distance, lexical_score=lexical_score, certainty=certainty,
                            record=record, chunk=(await self.files.chunks(record))[index]))
        return hits

    async def index(self, candidates: list[FileRecord], everything: list[FileRecord],
                    now: float) -> frozenset[str]:
        """Make this process's caches (vectors, lexical index) match the searchable files, so that BM25's
        statistics are those of every file embedded at ``now`` (``candidates`` and the others of
        ``everything``), on every worker alike. Files still ingesting are not waited for here.
        -> the keys of those files."""
        files, ingestion = self.files, self.ingestion
        corpus = {r.key: r for r in everything if ingestion.status(r, now) == EMBEDDED}
        corpus.update((r.key, r) for r in candidates)
        for key, record in corpus.items():
            if not files.lexical.has(key):
                await files.lexical.add(key, [c.text for c in await files.chunks(record)])
        keys = frozenset(corpus)
        files.keep_only(set(keys))
        return keys

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


def _digest(searched: list[str], counted: list[str]) -> bytes:
    """The uploads a search looks at and those its BM25 statistics count, as 16 bytes."""
    return hashlib.blake2b("\n".join([*searched, "", *counted]).encode(), digest_size=16).digest()
