"""A file's pages -> chunks -> packed vectors: the CPU-bound work of one ingestion.

``ingest`` runs in a worker thread (``ingestion.Ingestion`` schedules it, off the event loop) and
touches no backend: it is given the uploaded bytes (or the pages) and returns what the store
attaches to the file. Pages are cut into chunks of at most ``CHUNK_CHARS`` characters at the
nearest natural break (``spans``); each chunk gets a stable uuid from its file and position, and
exactly the vector /embeddings gives for its text (computed in batches by ``chunk_vectors``).
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, wait
from queue import Empty, SimpleQueue
from typing import TypeVar

import numpy as np

from ..stack import holding_freed_memory
from . import chunk_vectors, statuses
from .extraction import Budget, Unreadable, extract_pages
from .store import Extracted, FileRecord

log = logging.getLogger("emulator.ingestion")

T = TypeVar("T")

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
    """A chunk's uuid: a version-4 uuid made of the SHA-256 of its file and position."""
    return chunk_uuids(record, index, index + 1)[0]


def chunk_uuids(record: FileRecord, first: int, last: int) -> list[str]:
    """``chunk_uuid`` of the chunks ``first`` to ``last`` (excluded), formatted here rather than
    through ``uuid.UUID`` objects (half the time a chunk)."""
    prefix = f"chunk:{record.id}:{record.created_at}:{record.filename}:".encode()
    out = []
    for index in range(first, last):
        digest = bytearray(hashlib.sha256(prefix + str(index).encode()).digest()[:16])
        digest[6] = digest[6] & 0x0F | 0x40  # version 4
        digest[8] = digest[8] & 0x3F | 0x80  # the RFC 4122 variant
        x = digest.hex()
        out.append(f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}")
    return out


class Cancelled(Exception):
    """The file was deleted while it was being ingested."""


def ingest(record: FileRecord, raw: bytes, pages: tuple[str, ...] | None, dimensions: int, budget: Budget,
           cancelled: threading.Event | None = None,
           helpers: tuple[Executor, int] | None = None) -> Extracted:
    """The whole CPU-bound work of one file (run in a worker thread): its pages (extracted from
    ``raw``, or ``pages`` when given), its chunks and their packed vectors. The arrays of each batch
    of chunks are megabytes, made and dropped batch after batch: the memory they free is kept for
    the next batch until the file is done (``stack.holding_freed_memory``). ``helpers``: an executor
    and how many of its threads may take a share of the file's vectors (numpy releases the GIL for
    most of a batch's work, so a second core shortens a large file's ingestion)."""
    with holding_freed_memory():
        return _ingest(record, raw, pages, dimensions, budget, cancelled, helpers)


def _ingest(record: FileRecord, raw: bytes, pages: tuple[str, ...] | None, dimensions: int, budget: Budget,
            cancelled: threading.Event | None, helpers: tuple[Executor, int] | None) -> Extracted:
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
        cuts: list[tuple[int, int, int]] = []
        texts: list[str] = []
        for page_number, page in enumerate(pages, 1):
            for start, end in spans(page):
                cuts.append((page_number, start, end))
                texts.append(page[start:end])
        packed = np.empty((len(texts), dimensions), dtype="<f4")
        # The uuids are made here while the helpers begin on the vectors.
        names = _embed(texts, packed, cancelled, helpers, lambda: chunk_uuids(record, 0, len(cuts)))
        found = [(name, *cut) for name, cut in zip(names, cuts, strict=True)]
        return Extracted(pages=pages, spans=tuple(found), vectors=_as_bytes(packed), dimensions=dimensions)
    except Unreadable as exc:
        return Extracted(pages=pages or (), failure=str(exc))
    except Cancelled:
        raise
    except Exception as exc:  # a parser library failing on a broken file: the file failed, not us
        log.info("cannot read %s: %r", record.filename, exc)
        return Extracted(failure=f"{record.filename!r} could not be read: {type(exc).__name__}: {exc}")


def _as_bytes(packed: np.ndarray) -> bytes:
    """``packed.tobytes()``, copied without the GIL: ``tobytes`` holds it for the whole copy (~50 ms
    for a 20 MB file's 70 MB of vectors, every other request waiting). The bytes object is new and
    referenced nowhere else, so filling it once before anyone reads it is what ``tobytes`` does too."""
    out = bytes(packed.nbytes)
    ctypes.memmove(ctypes.c_char_p(out), packed.ctypes.data, packed.nbytes)  # a ctypes call drops the GIL
    return out


def _embed(texts: Sequence[str], packed: np.ndarray, cancelled: threading.Event | None,
           helpers: tuple[Executor, int] | None, meanwhile: Callable[[], T]) -> T:
    """The vectors of ``texts`` into the rows of ``packed``, batch after batch, on this thread and
    on up to ``helpers``' count more: each thread takes the next batch no one has taken (a helper
    busy with another file takes none, a slower thread fewer) and writes its rows, with an
    ``Embedder`` of its own. ``meanwhile`` runs here while the helpers begin; -> its result."""
    batch = chunk_vectors.BATCH
    starts: SimpleQueue[int] = SimpleQueue()
    for start in range(0, len(texts), batch):
        starts.put(start)
    lanes = 0 if helpers is None else min(helpers[1], starts.qsize() - 1)
    others = [helpers[0].submit(_embed_lane, texts, packed, starts, cancelled)
              for _ in range(lanes)] if helpers is not None else []
    try:
        result = meanwhile()
        _embed_lane(texts, packed, starts, cancelled)
    except BaseException:
        _drain(starts)  # the helpers stop after the batch they are on
        for other in others:
            other.cancel()
        wait(others)
        raise
    for other in others:  # every batch is written before this returns: none is left to a helper
        if not other.cancel():
            other.result()
    return result


def _embed_lane(texts: Sequence[str], packed: np.ndarray, starts: SimpleQueue[int],
                cancelled: threading.Event | None) -> None:
    """Batches taken from ``starts`` until none is left (numpy, the very values /embeddings gives),
    the GIL handed over between them: the event loop's thread, waiting for it to serve a request,
    gets it now instead of at the interpreter's next forced switch (5 ms)."""
    batch = chunk_vectors.BATCH
    embedder: chunk_vectors.Embedder | None = None
    while True:
        try:
            start = starts.get_nowait()
        except Empty:
            return
        if embedder is None:
            embedder = chunk_vectors.Embedder(packed.shape[1], min(len(texts), batch))
        end = min(start + batch, len(texts))
        embedder.into(texts[start:end], packed[start:end])
        time.sleep(0)
        if cancelled is not None and cancelled.is_set():
            _drain(starts)
            raise Cancelled()


def _drain(starts: SimpleQueue[int]) -> None:
    try:
        while True:
            starts.get_nowait()
    except Empty:
        pass
