"""An uploaded file -> pages of text -> chunks -> vectors, and the status clients see meanwhile.

As on Paradigm, an upload starts ``pending``, goes through ``parsing``, and ends
``embedded`` (or ``parsing_failed`` when no text can be read) ``--ingest-ms``
after the upload: ``pending`` for the first half of that time, ``parsing`` for
the second. The status is computed from the upload time, so nothing runs on a
timer. The work itself runs in an asyncio task started at upload (and cut into
slices, so a large file never stalls other requests); a request that looks at a
file whose time is up waits for that task, so with the default ``--ingest-ms 0``
a file is ``embedded`` for every request made after its upload answered.
Chunks get exactly the vectors /embeddings gives for their text.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from typing import Callable, Iterable

from ..generation import vectors as embedding
from .extraction import Unreadable, extract_pages
from .store import Chunk, Document, FileRecord, Store

log = logging.getLogger("emulator.ingestion")

PENDING, PARSING, EMBEDDED, FAILED = "pending", "parsing", "embedded", "parsing_failed"
STATUSES = (PENDING, PARSING, EMBEDDED, FAILED)
CHUNK_CHARS = 1500  # ~300 tokens: well inside the 512 of an E5-class embedding model
_SLICE = 16  # chunks embedded between two yields to the event loop

# The embedding module caches vectors of recent texts (it serves repeated /embeddings calls);
# chunks are embedded once and kept here, so they go around that cache instead of filling it.
_embed_once = getattr(getattr(embedding, "_embed", None), "__wrapped__", None)


def vector_for(text: str, size: int) -> list[float]:
    """The /embeddings vector of ``text`` at ``size`` dimensions."""
    if _embed_once is not None:
        return list(_embed_once(text, size, size))
    return embedding.embed(text, size)


def spans(text: str, limit: int = CHUNK_CHARS) -> list[tuple[int, int]]:
    """Cut a page into pieces of at most ``limit`` characters, at a paragraph break if one falls in
    the second half of the piece, else at a sentence end, a line end, a space, or (last) anywhere."""
    out = []
    position, length = 0, len(text)
    while position < length:
        while position < length and text[position].isspace():
            position += 1
        if position >= length:
            break
        cut = min(position + limit, length)
        if cut < length:
            floor = position + limit // 2
            for separator in ("\n\n", ". ", "\n", " "):
                found = text.rfind(separator, floor, cut)
                if found != -1:
                    cut = found + len(separator)
                    break
        end = cut
        while end > position and text[end - 1].isspace():
            end -= 1
        out.append((position, end))
        position = cut
    return out


def chunk_uuid(record: FileRecord, index: int) -> str:
    key = f"chunk:{record.id}:{record.created_at}:{record.filename}:{index}"
    digest = hashlib.sha256(key.encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


class Ingestion:
    def __init__(self, store: Store, ingest_ms: float, dimensions: int,
                 clock: Callable[[], float] = time.monotonic):
        self.store = store
        self.delay = max(ingest_ms, 0.0) / 1000
        self.dimensions = dimensions
        self.clock = clock
        self._tasks: dict[FileRecord, asyncio.Task] = {}

    def due(self, record: FileRecord) -> bool:
        return self.clock() >= record.uploaded + self.delay

    def status(self, record: FileRecord) -> str:
        elapsed = self.clock() - record.uploaded
        if elapsed < self.delay / 2:
            return PENDING
        if elapsed < self.delay or record.document is None:
            return PARSING
        return FAILED if record.document.failure else EMBEDDED

    def start(self, record: FileRecord) -> None:
        """Begin ingesting a new upload in the background (called from a request, on the event loop)."""
        self._task(record)

    async def settle(self, records: Iterable[FileRecord]) -> None:
        """Wait until every file whose time is up is ingested, so that its status is final."""
        waiting = [self._task(r) for r in records if r.document is None and self.due(r)]
        if waiting:
            # shield: a client that goes away cancels its request, never the ingestion others wait for
            await asyncio.gather(*(asyncio.shield(task) for task in waiting))

    async def ready(self, records: Iterable[FileRecord]) -> list[FileRecord]:
        """The files among ``records`` that are embedded now: what a search may look at."""
        records = list(records)
        await self.settle(records)
        return [r for r in records if self.status(r) == EMBEDDED]

    def _task(self, record: FileRecord) -> asyncio.Task:
        task = self._tasks.get(record)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._ingest(record))
            self._tasks[record] = task
            task.add_done_callback(lambda _: self._tasks.pop(record, None))
        return task

    async def _ingest(self, record: FileRecord) -> None:
        try:
            pages = record.pages
            if pages is None:
                collected = []
                for page in extract_pages(record.filename, record.raw or b""):
                    collected.append(page)
                    await asyncio.sleep(0)
                pages = tuple(collected)
            if not any(page.strip() for page in pages):
                raise Unreadable(f"No text could be extracted from {record.filename!r}.")
            chunks = []
            for page_number, page in enumerate(pages, 1):
                for start, end in spans(page):
                    index = len(chunks)
                    chunks.append(Chunk(chunk_uuid(record, index), index, page_number, start, end,
                                        vector_for(page[start:end], self.dimensions)))
                    if index % _SLICE == _SLICE - 1:
                        await asyncio.sleep(0)
                        if self.store.get(record.id) is not record:
                            return  # deleted meanwhile: nobody will read the rest
            document = Document(pages=pages, chunks=tuple(chunks))
        except Unreadable as exc:
            document = Document(failure=str(exc))
        except Exception as exc:  # a parser library failing on a broken file: the file failed, not us
            log.info("cannot read %s: %r", record.filename, exc)
            document = Document(failure=f"{record.filename!r} could not be read: {type(exc).__name__}: {exc}")
        self.store.attach(record, document)


def total_pages(record: FileRecord) -> int:
    return len(record.document.pages) if record.document is not None and not record.document.failure else 0
