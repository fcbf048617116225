"""The document store: every uploaded file, its extracted pages and its embedded chunks.

One store serves v2 and v3 alike. ``Store`` is the interface the handlers use
(add, get, list, delete, clear, attach, search, snapshot, load), so that a
Redis-backed store can replace ``MemoryStore`` later; ``MemoryStore`` keeps it
all in this process behind one lock, which makes it safe both for concurrent
requests and for a test thread calling ``emulator.reset()`` while the server runs.

Vectors are kept as packed float32 (4 bytes a dimension, exactly the values
/embeddings returns). Searching needs them as Python floats, so the first
``HOT_CHUNKS`` chunks also keep a decoded tuple: a search over them costs one C
call (``math.dist``) per chunk instead of a decode, at 32 KB a 1,024-dimension chunk.
"""

from __future__ import annotations

import base64
import heapq
import itertools
import json
import math
import os
import struct
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

SNAPSHOT_FILE = "store.json"
SNAPSHOT_VERSION = 1
HOT_CHUNKS = 2048


class Chunk:
    """A span of one page of a document, and its embedding."""

    __slots__ = ("uuid", "index", "page", "start", "end", "packed", "norm2", "hot")

    def __init__(self, uuid: str, index: int, page: int, start: int, end: int, vector: Sequence[float]):
        self.uuid = uuid
        self.index = index
        self.page = page  # 1-based
        self.start, self.end = start, end  # offsets into the page's text
        self.packed = struct.pack(f"<{len(vector)}f", *vector)
        self.norm2 = math.fsum(v * v for v in vector)
        self.hot: tuple[float, ...] | None = None

    def vector(self) -> tuple[float, ...]:
        if self.hot is not None:
            return self.hot
        return struct.unpack(f"<{len(self.packed) // 4}f", self.packed)


@dataclass(frozen=True)
class Document:
    """What ingestion made of a file: its pages of text and their chunks, or why it could not be read."""

    pages: tuple[str, ...] = ()
    chunks: tuple[Chunk, ...] = ()
    failure: str | None = None

    @property
    def text(self) -> str:
        return "\n\n".join(self.pages)

    def chunk_text(self, chunk: Chunk) -> str:
        return self.pages[chunk.page - 1][chunk.start:chunk.end]


@dataclass(eq=False)
class FileRecord:
    """One uploaded file. Identity matters: a late ingestion result is only attached to the very
    record it was computed for (ids start again at 1 after ``clear``)."""

    id: int
    filename: str
    title: str
    purpose: str
    workspace_id: int
    size: int
    created_at: int  # Unix seconds: the emulator's epoch plus one second per file created
    uploaded: float  # time.monotonic() of the upload: ingestion's clock
    raw: bytes | None  # the uploaded bytes, dropped once the text is extracted
    tag_ids: tuple[int, ...] = ()
    parser: str | None = None
    document: Document | None = None
    # Text extracted before a snapshot, waiting to be chunked and embedded again after ``load``.
    pages: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Hit:
    score: float
    record: FileRecord
    chunk: Chunk

    @property
    def text(self) -> str:
        assert self.record.document is not None
        return self.record.document.chunk_text(self.chunk)


@dataclass
class NewFile:
    """What an upload gives the store; it answers with a ``FileRecord`` carrying the id."""

    filename: str
    title: str
    purpose: str
    workspace_id: int
    raw: bytes
    uploaded: float
    tag_ids: tuple[int, ...] = ()
    parser: str | None = None


class Store(ABC):
    @abstractmethod
    def add(self, new: NewFile) -> FileRecord: ...

    @abstractmethod
    def get(self, file_id: int) -> FileRecord | None: ...

    @abstractmethod
    def list(self) -> list[FileRecord]:
        """Every file, newest first."""

    @abstractmethod
    def delete(self, file_id: int) -> bool: ...

    @abstractmethod
    def clear(self) -> None: ...

    @abstractmethod
    def attach(self, record: FileRecord, document: Document) -> bool:
        """Store ingestion's result; False when the record was deleted meanwhile."""

    @abstractmethod
    def search(self, vector: Sequence[float], n: int, file_ids: Iterable[int] | None = None) -> list[Hit]:
        """The ``n`` chunks closest to ``vector`` by cosine, best first, among ingested files
        (all of them, or those named by ``file_ids``)."""

    @abstractmethod
    def snapshot(self, directory: Path) -> Path: ...

    @abstractmethod
    def load(self, directory: Path) -> int: ...


class MemoryStore(Store):
    def __init__(self, epoch: int = 0, hot_chunks: int = HOT_CHUNKS):
        self.epoch = epoch
        self.hot_chunks = hot_chunks
        self._lock = threading.RLock()
        self._files: dict[int, FileRecord] = {}
        self._ids = itertools.count(1)
        self._hot_used = 0

    def add(self, new: NewFile) -> FileRecord:
        with self._lock:
            file_id = next(self._ids)
            record = FileRecord(
                id=file_id, filename=new.filename, title=new.title, purpose=new.purpose,
                workspace_id=new.workspace_id, size=len(new.raw), created_at=self.epoch + file_id,
                uploaded=new.uploaded, raw=new.raw, tag_ids=new.tag_ids, parser=new.parser)
            self._files[file_id] = record
            return record

    def get(self, file_id: int) -> FileRecord | None:
        with self._lock:
            return self._files.get(file_id)

    def list(self) -> list[FileRecord]:
        with self._lock:
            return sorted(self._files.values(), key=lambda r: r.id, reverse=True)

    def delete(self, file_id: int) -> bool:
        with self._lock:
            record = self._files.pop(file_id, None)
            if record is None:
                return False
            self._release(record)
            return True

    def clear(self) -> None:
        with self._lock:
            self._files.clear()
            self._ids = itertools.count(1)
            self._hot_used = 0

    def attach(self, record: FileRecord, document: Document) -> bool:
        with self._lock:
            if self._files.get(record.id) is not record:
                return False
            for chunk in document.chunks:
                if self._hot_used >= self.hot_chunks:
                    break
                chunk.hot = chunk.vector()
                self._hot_used += 1
            record.document = document
            record.raw = None
            record.pages = None
            return True

    def _release(self, record: FileRecord) -> None:
        if record.document is not None:
            self._hot_used -= sum(1 for c in record.document.chunks if c.hot is not None)

    def search(self, vector: Sequence[float], n: int, file_ids: Iterable[int] | None = None) -> list[Hit]:
        with self._lock:
            wanted = None if file_ids is None else set(file_ids)
            records = [r for r in self._files.values()
                       if r.document is not None and (wanted is None or r.id in wanted)]
        if n <= 0 or not records:
            return []
        query = tuple(float(v) for v in vector)
        query_norm2 = math.fsum(v * v for v in query)
        if not query_norm2:
            return []
        query_norm = math.sqrt(query_norm2)
        scored = []
        dist = math.dist
        for record in records:
            assert record.document is not None
            for chunk in record.document.chunks:
                if not chunk.norm2:
                    continue
                # |q - c|^2 = |q|^2 + |c|^2 - 2 q.c: one C call per chunk instead of a Python loop.
                d = dist(query, chunk.vector())
                dot = (query_norm2 + chunk.norm2 - d * d) / 2
                score = dot / (query_norm * math.sqrt(chunk.norm2))
                scored.append((round(score, 6), -record.id, -chunk.index, record, chunk))
        best = heapq.nlargest(n, scored, key=lambda s: s[:3])
        return [Hit(s[0], s[3], s[4]) for s in best]

    # -- snapshot: the files and their extracted text; chunks and vectors are recomputed on demand

    def snapshot(self, directory: Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        with self._lock:
            records = sorted(self._files.values(), key=lambda r: r.id)
            next_id = max((r.id for r in records), default=0) + 1
            files = [_dump(r) for r in records]
        target = directory / SNAPSHOT_FILE
        temporary = target.with_suffix(".json.tmp")
        temporary.write_text(json.dumps({"version": SNAPSHOT_VERSION, "next_id": next_id, "files": files}),
                             encoding="utf-8")
        os.replace(temporary, target)  # a crash mid-write never leaves half a snapshot
        return target

    def load(self, directory: Path) -> int:
        """Files from a snapshot (none if there is none yet); -> how many were loaded."""
        source = Path(directory) / SNAPSHOT_FILE
        if not source.is_file():
            return 0
        try:
            document = json.loads(source.read_text(encoding="utf-8"))
            if document.get("version") != SNAPSHOT_VERSION:
                raise ValueError(f"version {document.get('version')!r}, expected {SNAPSHOT_VERSION}")
            records = [_undump(entry) for entry in document["files"]]
            next_id = int(document["next_id"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{source}: not a readable store snapshot ({exc})") from exc
        with self._lock:
            self.clear()
            for record in records:
                self._files[record.id] = record
            self._ids = itertools.count(max(next_id, max(self._files, default=0) + 1))
        return len(records)


def _dump(record: FileRecord) -> dict:
    entry = {"id": record.id, "filename": record.filename, "title": record.title, "purpose": record.purpose,
             "workspace_id": record.workspace_id, "size": record.size, "created_at": record.created_at,
             "tag_ids": list(record.tag_ids), "parser": record.parser}
    if record.document is not None:
        entry["pages"] = list(record.document.pages)
        entry["failure"] = record.document.failure
    elif record.pages is not None:
        entry["pages"] = list(record.pages)
    else:
        entry["raw"] = base64.b64encode(record.raw or b"").decode("ascii")
    return entry


def _undump(entry: dict) -> FileRecord:
    record = FileRecord(
        id=int(entry["id"]), filename=str(entry["filename"]), title=str(entry["title"]),
        purpose=str(entry["purpose"]), workspace_id=int(entry["workspace_id"]), size=int(entry["size"]),
        created_at=int(entry["created_at"]), uploaded=-math.inf,  # ingested long ago: no waiting
        raw=base64.b64decode(entry["raw"]) if "raw" in entry else None,
        tag_ids=tuple(int(t) for t in entry.get("tag_ids", ())), parser=entry.get("parser"))
    if entry.get("failure"):
        record.document = Document(pages=tuple(entry.get("pages", ())), failure=str(entry["failure"]))
    elif "pages" in entry:
        record.pages = tuple(str(p) for p in entry["pages"])
    return record
