"""A file's pages -> chunks -> packed vectors: the CPU-bound work of one ingestion.

``ingest`` runs in a worker thread (``ingestion.Ingestion`` schedules it, off the event loop) and
touches no backend: it is given the uploaded bytes (or the pages) and returns what the store
attaches to the file. Pages are cut into chunks of at most ``CHUNK_CHARS`` characters at the
nearest natural break (``spans``); each chunk gets a stable uuid from its file and position, and
exactly the vector /embeddings gives for its text (computed in batches by ``chunk_vectors``).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid

import numpy as np

from ..stack import holding_freed_memory
from . import chunk_vectors, statuses
from .extraction import Budget, Unreadable, extract_pages
from .store import Extracted, FileRecord

log = logging.getLogger("emulator.ingestion")

CHUNK_CHARS = 1500  # ~300 tokens: well inside the 512 of an E5-class embedding model


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


class Cancelled(Exception):
    """The file was deleted while it was being ingested."""


def ingest(record: FileRecord, raw: bytes, pages: tuple[str, ...] | None, dimensions: int, budget: Budget,
           cancelled: threading.Event | None = None) -> Extracted:
    """The whole CPU-bound work of one file (run in a worker thread): its pages (extracted from
    ``raw``, or ``pages`` when given), its chunks and their packed vectors. The arrays of each batch
    of chunks are megabytes, made and dropped batch after batch: the memory they free is kept for
    the next batch until the file is done (``stack.holding_freed_memory``)."""
    with holding_freed_memory():
        return _ingest(record, raw, pages, dimensions, budget, cancelled)


def _ingest(record: FileRecord, raw: bytes, pages: tuple[str, ...] | None, dimensions: int, budget: Budget,
            cancelled: threading.Event | None) -> Extracted:
    scripted = statuses.scripted_failure(record.extra)
    if scripted is not None:  # a fixture said how this upload's ingestion ends
        return Extracted(failure=scripted[1], outcome=scripted[0])
    try:
        if pages is None and "image" in record.extra:
            return Extracted()  # an image (its format and size read at upload): no text to read or embed
        if pages is None:
            collected = []
            for page in extract_pages(record.filename, raw, budget):
                collected.append(page)
                if cancelled is not None and cancelled.is_set():
                    raise Cancelled()
            pages = tuple(collected)
        if not any(page.strip() for page in pages):
            raise Unreadable(f"No text could be extracted from {record.filename!r}.")
        found: list[tuple[str, int, int, int]] = []
        texts: list[str] = []
        for page_number, page in enumerate(pages, 1):
            for start, end in spans(page):
                found.append((chunk_uuid(record, len(found)), page_number, start, end))
                texts.append(page[start:end])
        # The vectors in batches (numpy, the very values /embeddings gives), the GIL handed over between
        # them: the event loop's thread, waiting for it to serve a request, gets it now instead of at
        # the interpreter's next forced switch (5 ms).
        batch = chunk_vectors.BATCH
        packed = np.empty((len(texts), dimensions), dtype="<f4")
        embedder = chunk_vectors.Embedder(dimensions, min(len(texts), batch))
        for first in range(0, len(texts), batch):
            embedder.into(texts[first:first + batch], packed[first:first + batch])
            time.sleep(0)
            if cancelled is not None and cancelled.is_set():
                raise Cancelled()
        return Extracted(pages=pages, spans=tuple(found), vectors=packed.tobytes(), dimensions=dimensions)
    except Unreadable as exc:
        return Extracted(pages=pages or (), failure=str(exc))
    except Cancelled:
        raise
    except Exception as exc:  # a parser library failing on a broken file: the file failed, not us
        log.info("cannot read %s: %r", record.filename, exc)
        return Extracted(failure=f"{record.filename!r} could not be read: {type(exc).__name__}: {exc}")
