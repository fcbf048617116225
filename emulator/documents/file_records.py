"""The records of the file store: a file's metadata (``FileRecord``), what an upload gives
(``NewFile``) and what ingestion makes of it (``Extracted``), a chunk of its text and a search hit."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from .statuses import QUEUED


@dataclass(frozen=True)
class FileRecord:
    """One uploaded file's metadata, as a value (change it with ``FileStore.update``)."""

    id: int
    nonce: str
    filename: str
    title: str
    purpose: str
    workspace_id: int
    size: int
    created_at: int  # Unix seconds: the emulator's epoch plus one second per file id
    uploaded: float  # the shared clock (``state.now()``) at the upload: ingestion is timed from it
    tag_ids: tuple[int, ...] = ()
    auto_tag_ids: tuple[int, ...] = ()  # those of tag_ids the system assigned (v3's auto_assigned)
    parser: str | None = None
    signature: str | None = None
    external_metadata: dict[str, Any] | None = None
    updated_at: int = 0  # 0: never changed since the upload (then it is created_at)
    # Ingestion's stored outcome.
    state: str = QUEUED
    failure: str | None = None
    total_pages: int = 0
    chunk_count: int = 0
    # Who is ingesting it, until when (shared clock): a worker that died lets its lease run out.
    lease: str | None = None
    lease_until: float = 0.0
    # Fields of other features (upload sessions, image metadata ...), JSON-able, by name.
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The key of this upload's bytes, pages, chunks and vectors."""
        return f"{self.id}.{self.nonce}"

    @property
    def modified_at(self) -> int:
        return self.updated_at or self.created_at

    def value(self) -> dict[str, Any]:
        body = dataclasses.asdict(self)
        body["tag_ids"] = list(self.tag_ids)
        body["auto_tag_ids"] = list(self.auto_tag_ids)
        return body

    @classmethod
    def of(cls, value: Any) -> FileRecord:
        body = dict(value)
        body["tag_ids"] = tuple(body.get("tag_ids") or ())
        body["auto_tag_ids"] = tuple(body.get("auto_tag_ids") or ())
        return cls(**body)

    def replace(self, **changes: Any) -> FileRecord:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True, slots=True)
class Chunk:
    """A span of one page of a file. The text is cut from the page when asked for: a cached chunk
    holds the page (shared with every chunk of it) and its bounds, never a copy of its text."""

    uuid: str
    index: int
    page: int  # 1-based
    source: str  # the page's text
    start: int
    end: int

    @property
    def text(self) -> str:
        return self.source[self.start:self.end]


@dataclass(frozen=True)
class Hit:
    """One chunk found by ``Retrieval.search``, with the scores Paradigm's v3 results carry."""

    score: float  # the fused score results are ranked by (higher is better)
    distance: float  # cosine distance between the query's and the chunk's vectors: 1 - cosine
    lexical_score: float  # BM25 of the query's words in the chunk (0 when none of them is there)
    certainty: float  # (1 + cosine) / 2, in [0, 1]
    record: FileRecord
    chunk: Chunk

    @property
    def text(self) -> str:
        return self.chunk.text

    # What an answer quotes (``summaries.Quotable``): the file, its name, the page.
    @property
    def file_id(self) -> int:
        return self.record.id

    @property
    def filename(self) -> str:
        return self.record.filename

    @property
    def page(self) -> int:
        return self.chunk.page


@dataclass
class NewFile:
    """What an upload gives the store; it answers with a ``FileRecord`` carrying the id."""

    filename: str
    title: str
    purpose: str
    workspace_id: int
    raw: bytes
    tag_ids: tuple[int, ...] = ()
    auto_tag_ids: tuple[int, ...] = ()
    parser: str | None = None
    signature: str | None = None
    external_metadata: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Extracted:
    """Ingestion's product for one file: its pages, their chunks (uuid, page, start, end), and the
    chunks' packed vectors; or why it could not be read."""

    pages: tuple[str, ...] = ()
    spans: tuple[tuple[str, int, int, int], ...] = ()
    vectors: bytes = b""
    dimensions: int = 0
    failure: str | None = None
    outcome: str | None = None  # the failure status (``statuses.FAILURES``); None: parsing_failed
