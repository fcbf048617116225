"""The file store: every uploaded file as values in the state backend, so every worker sees the same.

One store serves v2 and v3 alike. A file is a few records under its id:

    files         id -> its metadata (``FileRecord.value()``): names, workspace, tags, the stored
                  outcome of its ingestion and the lease of whoever is ingesting it
    file-bytes    id.nonce -> the uploaded bytes (until the file is ingested: nothing else reads them)
    file-pages    id.nonce -> [the text of each page]
    file-chunks   id.nonce -> [[uuid, page, start, end], ...]: spans of the pages
    file-vectors  id.nonce -> the chunks' vectors, packed float32, one after the other
    files-version "files" -> a random token, rewritten after every change of ``files``: a worker
                  keeps its list of every file until it changes (on Redis the token is read
                  with ``get_watched``, so listing the files costs no round trip meanwhile)

Ids come from the backend's counter, so two workers never hand out the same one. The ``nonce``
(random, per upload) tells a file from a later one that got the same id after a reset: a late
ingestion result or a cached vector is only ever used for the very upload it was made from.

What this process caches (the vectors as one matrix, ``matrix.py``; the lexical index of
``retrieval``) is keyed on (id, nonce) and is correct to lose. Ingestion (``ingestion.py``, the
work itself in ``chunking.py``) fills the text, chunks and vectors.
Nothing needs saving: with --data-dir the memory backend keeps every record on disk as it is
written, and Redis keeps them itself.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from ..identity.ownership import SCOPE, WORKSPACE, visible
from ..identity.users import User
from ..state import Backend
from .file_records import Chunk, Extracted, FileRecord, Hit, NewFile
from .lexical import LexicalIndex
from .matrix import Block, VectorMatrix
from .statuses import EMBEDDED, PARSING_FAILED, QUEUED

SPACE, BYTES, PAGES, CHUNKS, VECTORS = "files", "file-bytes", "file-pages", "file-chunks", "file-vectors"
# One record, rewritten (a new random token) after every change of the files' metadata: what lets a
# worker keep the list of files between two changes (read with ``get_watched``: on Redis, no round
# trip while no change was published). A token, not a count: a count starts again after a reset.
VERSION, VERSION_KEY = "files-version", "files"
COUNTER = "file-ids"
OFF_LOOP_BYTES = 4 * 1024 * 1024  # vectors larger than this are taken into the matrix in a thread

# What ingestion stores (``statuses.OUTCOMES``; the status clients see also depends on --ingest-ms).
FAILED = PARSING_FAILED
# The records live in file_records; their users import them from here, beside the store.
__all__ = ["FAILED", "Chunk", "Extracted", "FileRecord", "FileStore", "Hit", "Members", "NewFile"]


class Members(Protocol):
    """Who is a member of a workspace now (``workspace_store.WorkspaceStore``)."""

    async def seen_ids(self, workspace_ids: set[int], user: User) -> set[int]: ...


class FileStore:
    """The files, over the state backend. Every method reads or writes the backend, so what one
    worker stores the others read; nothing here is the truth but the backend."""

    def __init__(self, state: Backend, epoch: int = 0, members: Members | None = None):
        self.state = state
        self.epoch = epoch
        self.members = members  # what narrows a workspace-scope file to its workspace's members
        # dimensions -> the vectors of the uploads searched so far, one matrix (rows keyed on id.nonce)
        self._matrices: dict[int, VectorMatrix] = {}
        self._unsearchable: set[str] = set()  # uploads whose vectors are not of the dimensions asked
        self._adding = asyncio.Lock()
        self._chunks: dict[str, list[Chunk]] = {}
        self._listed: tuple[Any, tuple[FileRecord, ...]] | None = None  # (version, every file, newest first)
        self.lexical = LexicalIndex()
        # Set by Ingestion: the lease a new upload starts with (this process's name, seconds), and
        # what add() calls to begin ingesting it.
        self.lease: tuple[str, float] | None = None
        self.on_added: Callable[[FileRecord], None] | None = None

    # -- records --------------------------------------------------------------------------------

    async def add(self, new: NewFile) -> FileRecord:
        file_id = await self.state.next_id(COUNTER)
        now = await self.state.now()
        record = FileRecord(
            id=file_id, nonce=secrets.token_hex(8), filename=new.filename, title=new.title,
            purpose=new.purpose, workspace_id=new.workspace_id, size=len(new.raw),
            created_at=self.epoch + file_id, uploaded=now, tag_ids=new.tag_ids,
            auto_tag_ids=new.auto_tag_ids, parser=new.parser,
            signature=new.signature, external_metadata=new.external_metadata, extra=dict(new.extra))
        if self.lease is not None:
            record = record.replace(lease=self.lease[0], lease_until=now + self.lease[1])
        # The bytes first: a worker that lists the record may take over its ingestion at once.
        await self.state.put(BYTES, record.key, new.raw)
        await self.state.put(SPACE, str(file_id), record.value())
        await self._changed()
        if self.on_added is not None:
            self.on_added(record)
        return record

    # ``viewer``: the user a request is for. A file that is not theirs to see (another user's private
    # file, another company's, one of a workspace they are not a member of) is then as absent as one
    # never uploaded; None: every file.

    async def visible_to(self, records: Iterable[FileRecord], viewer: User | None) -> list[FileRecord]:
        """Those of ``records`` that ``viewer`` may see (None: all), in their order."""
        if viewer is None:
            return list(records)
        kept = [r for r in records if visible(r.extra, viewer)]
        shared = {r.workspace_id for r in kept if r.extra.get(SCOPE) == WORKSPACE}
        if not shared or self.members is None:
            return kept
        seen = await self.members.seen_ids(shared, viewer)
        return [r for r in kept if r.extra.get(SCOPE) != WORKSPACE or r.workspace_id in seen]

    async def get(self, file_id: int, viewer: User | None = None) -> FileRecord | None:
        value = await self.state.get(SPACE, str(file_id))
        if value is None:
            return None
        found = await self.visible_to([FileRecord.of(value)], viewer)
        return found[0] if found else None

    async def get_many(self, file_ids: Iterable[int], viewer: User | None = None) -> list[FileRecord | None]:
        values = await self.state.get_many(SPACE, [str(i) for i in file_ids])
        records = [None if v is None else FileRecord.of(v) for v in values]
        kept = {id(r) for r in await self.visible_to((r for r in records if r is not None), viewer)}
        return [r if r is not None and id(r) in kept else None for r in records]

    async def all(self, viewer: User | None = None) -> list[FileRecord]:
        """Every file (the viewer's, when given), newest first: read again only after a change."""
        version = await self.state.get_watched(VERSION, VERSION_KEY)
        listed = self._listed
        if listed is None or version is None or listed[0] != version:
            # The version is read before the records: a change made meanwhile rewrites it after them.
            records = [FileRecord.of(v) for v in (await self.state.items(SPACE)).values()]
            records.sort(key=lambda r: r.id, reverse=True)
            listed = (version, tuple(records))
            if version is not None:
                self._listed = listed
        return await self.visible_to(listed[1], viewer)

    async def _changed(self) -> None:
        """Tell every worker's ``all`` that the files' metadata changed (on Redis: a published change)."""
        token = secrets.token_hex(8)
        await self.state.update(VERSION, VERSION_KEY, lambda _: token)

    async def update(self, file_id: int, change: Callable[[FileRecord], FileRecord | None],
                     nonce: str | None = None) -> FileRecord | None:
        """Atomic read-modify-write of a file's metadata (``change`` may run more than once, so it
        must be pure); -> the new record, or None when the file is not there (or is not the upload
        ``nonce`` names: a later file with the same id is never changed for an earlier one)."""

        changed_it = [False]

        def apply(current: Any) -> Any:
            changed_it[0] = False
            if current is None:
                return None
            record = FileRecord.of(current)
            if nonce is not None and record.nonce != nonce:
                return current
            changed = change(record)
            changed_it[0] = changed is not None
            return current if changed is None else changed.value()

        value = await self.state.update(SPACE, str(file_id), apply)
        if changed_it[0]:
            await self._changed()
        if value is None:
            return None
        record = FileRecord.of(value)
        return record if nonce is None or record.nonce == nonce else None

    async def delete(self, file_id: int) -> bool:
        record = await self.get(file_id)
        if record is None or not await self.state.delete(SPACE, str(file_id)):
            return False
        await self._changed()
        await self._drop_content(record)
        return True

    async def _drop_content(self, record: FileRecord) -> None:
        for space in (BYTES, PAGES, CHUNKS, VECTORS):
            await self.state.delete(space, record.key)
        self._forget(record.key)

    # -- content ------------------------------------------------------------------------------------

    async def raw(self, record: FileRecord) -> bytes:
        value = await self.state.get(BYTES, record.key)
        return value if isinstance(value, bytes) else b""

    async def pages(self, record: FileRecord) -> tuple[str, ...]:
        value = await self.state.get(PAGES, record.key)
        return tuple(value) if isinstance(value, list) else ()

    async def text(self, record: FileRecord) -> str:
        return "\n\n".join(await self.pages(record))

    async def chunks(self, record: FileRecord) -> list[Chunk]:
        """The file's chunks in order (none until it is embedded)."""
        cached = self._chunks.get(record.key)
        if cached is not None:
            return cached
        pages, spans = await self.pages(record), await self.state.get(CHUNKS, record.key)
        if not isinstance(spans, list):
            return []
        chunks = [Chunk(uuid, index, page, pages[page - 1] if page <= len(pages) else "", start, end)
                  for index, (uuid, page, start, end) in enumerate(spans)]
        if record.state == EMBEDDED:
            self._chunks[record.key] = chunks
        return chunks

    def matrix(self, dimensions: int) -> VectorMatrix:
        """The matrix of the vectors of ``dimensions`` this process has read (``vector_rows``)."""
        matrix = self._matrices.get(dimensions)
        if matrix is None:
            matrix = self._matrices[dimensions] = VectorMatrix(dimensions)
        return matrix

    async def vectors(self, record: FileRecord, dimensions: int) -> Block | None:
        """The file's chunk vectors, in chunk order, as ``matrix(dimensions)`` holds them (read from the
        backend the first time); None when it has none yet, or vectors of other dimensions. A large
        file's norms are computed in a thread, off the event loop."""
        matrix = self.matrix(dimensions)
        block = matrix.snapshot().get(record.key)
        if block is not None:
            return block
        if record.key in self._unsearchable or not record.chunk_count:
            return None
        packed = await self.state.get(VECTORS, record.key)
        if not isinstance(packed, bytes) or len(packed) != record.chunk_count * dimensions * 4:
            if isinstance(packed, bytes):
                self._unsearchable.add(record.key)
            return None
        # One copy at a time: the matrix is written by one thread only. (A file deleted during its copy
        # is dropped from the matrix by the next search's ``keep_only``.)
        async with self._adding:
            if len(packed) > OFF_LOOP_BYTES:
                return await asyncio.get_running_loop().run_in_executor(None, matrix.add, record.key, packed)
            return matrix.add(record.key, packed)

    def _forget(self, key: str) -> None:
        for matrix in self._matrices.values():
            matrix.remove(key)
        self._unsearchable.discard(key)
        chunks = self._chunks.pop(key, None)
        self.lexical.remove(key, None if chunks is None else [c.text for c in chunks])

    def keep_only(self, keys: set[str]) -> None:
        """Drop what this process caches for uploads that are no longer stored (or searchable)."""
        cached = set(self._chunks) | self.lexical.keys() | self._unsearchable
        for matrix in self._matrices.values():
            cached |= matrix.keys()
        for key in cached - keys:
            self._forget(key)

    async def attach(self, record: FileRecord, extracted: Extracted) -> FileRecord | None:
        """Store ingestion's result for the very upload ``record`` is; -> the updated record, or None
        when it was deleted meanwhile (then nothing of it is kept)."""
        if extracted.failure is None:
            await self.state.put(PAGES, record.key, list(extracted.pages))
            await self.state.put(CHUNKS, record.key, [list(s) for s in extracted.spans])
            await self.state.put(VECTORS, record.key, extracted.vectors)
        outcome = EMBEDDED if extracted.failure is None else extracted.outcome or FAILED

        def done(current: FileRecord) -> FileRecord | None:
            if current.state != QUEUED:
                return None  # another worker finished it first: its result stands
            return current.replace(state=outcome, failure=extracted.failure,
                                   total_pages=len(extracted.pages), chunk_count=len(extracted.spans),
                                   lease=None, lease_until=0.0)

        updated = await self.update(record.id, done, nonce=record.nonce)
        if updated is None:
            await self._drop_content(record)
        elif updated.state != QUEUED:
            # Ingested: the uploaded bytes were only kept for it (nothing serves them back), and
            # the pages hold their text.
            await self.state.delete(BYTES, record.key)
        return updated

