"""/api/v3/files: upload, list (filters, relevance search), retrieve, update, tag, delete.

v3 files live in the same store as v2's (an upload through one API is listed by the other). A v3
upload names its workspace (``workspace_id`` is required) and answers ``status: "pending"`` with
``message: "File queued for processing"``; clients poll GET /api/v3/files/{id} until ``embedded``.
Lists are DRF pages of 20: ``{count, next, previous, results}``. PATCH changes only the mutable
fields (``title``, ``tags`` replacing all, ``external_metadata`` merged); everything it refuses
(only immutable fields, an unknown tag) is refused before anything is stored.
"""


from __future__ import annotations

from typing import Any

from starlette.responses import Response

from ..bodies import body_limit
from ..call import Call, Handler, json_response
from ..config import Settings
from ..documents import statuses
from ..documents.ingestion import PENDING, Ingestion
from ..documents.retrieval import Retrieval
from ..documents.store import FileRecord, FileStore
from ..documents.workspace_store import WorkspaceStore
from ..documents.workspaces import Tag
from ..errors import NotFound, ValidationError
from ..identity.users import User
from .common import body_of, does_not_exist, paginate
from .file_filters import filtered
from .files import file_or_404, read_upload, scripted_ingestion, store_upload, v2_file, workspace_or_400
from .v3_file import v3_file

MUTABLE = ("title", "tags", "external_metadata")
SEARCH_LIMIT = 50  # max_documents' default: how many files a relevance search answers at most


def _merged(current: dict[str, Any] | None, given: dict[str, Any] | None) -> dict[str, Any] | None:
    """External metadata: given fields replace, ``additional_metadata`` is merged key by key."""
    if given is None:
        return None
    merged = dict(current or {})
    for key, value in given.items():
        if key == "additional_metadata" and isinstance(value, dict):
            merged[key] = {**(merged.get(key) or {}), **value}
        else:
            merged[key] = value
    merged.setdefault("additional_metadata", {})
    return merged


class FilesV3:
    """/api/v3/files, /api/v3/files/{id} and /api/v3/files/{file_id}/tags."""

    def __init__(self, files: FileStore, ingestion: Ingestion, workspaces: WorkspaceStore,
                 retrieval: Retrieval, settings: Settings):
        self.files, self.ingestion, self.workspaces, self.retrieval = files, ingestion, workspaces, retrieval
        self.upload_limit = body_limit(settings, takes_file=True)

    def handlers(self) -> dict[str, Handler]:
        return {"api_v3_files_create": self.create, "api_v3_files_list": self.list_files,
                "api_v3_files_retrieve": self.retrieve, "api_v3_files_destroy": self.destroy,
                "api_v3_files_partial_update": self.update, "api_v3_files_tags_create": self.add_tags}

    async def _answer(self, records: list[FileRecord], viewer: User | None) -> list[dict[str, Any]]:
        now = await self.ingestion.now()
        workspaces, tags = await self.workspaces.named(viewer)
        return [v3_file(self.ingestion, r, now, workspaces, tags) for r in records]

    async def _tags_or_400(self, field: str, tag_ids: list[int], call: Call) -> dict[int, Tag]:
        tags = await self.workspaces.tags(call.user)
        unknown = [t for t in tag_ids if t not in tags]
        if unknown:
            raise does_not_exist(field, unknown)
        return tags

    # -- POST /api/v3/files ---------------------------------------------------------------------------

    async def create(self, call: Call) -> Response:
        filename, data = await read_upload(call, self.upload_limit)
        body = call.body
        workspace = await workspace_or_400(self.workspaces, "workspace_id", body["workspace_id"], call.user)
        tag_ids = list(dict.fromkeys(body.get("tags") or []))
        tags = await self._tags_or_400("tags", tag_ids, call)
        automatic = tuple(t for t in tag_ids if tags[t].auto_assign)  # as the system would assign them
        record = await store_upload(self.files, body.get("filename") or filename, data, workspace,
                                    body.get("title"), tag_ids=tuple(tag_ids), auto_tag_ids=automatic,
                                    parser=body.get("parser"), owner=call.user,
                                    script=scripted_ingestion(call))
        answer = v3_file(self.ingestion, record, record.uploaded, {workspace.id: workspace}, tags)
        answer["status"] = PENDING  # the answer Paradigm gives: queued, whatever happens next
        answer["status_vision"] = statuses.vision_status(record.extra, PENDING)
        answer["message"] = "File queued for processing"
        return json_response(answer, 201)

    # -- GET /api/v3/files ------------------------------------------------------------------------------

    async def list_files(self, call: Call) -> Response:
        query = call.query
        ingestion = self.ingestion
        records = await self.files.all(call.user)
        records = await filtered(query, records, ingestion)
        if "search" in query:
            records = await self._by_relevance(str(query["search"]), records)
            records = records[:query.get("max_documents", SEARCH_LIMIT)]
        elif "max_documents" in query:
            records = records[:query["max_documents"]]
        if "after" in query:  # the openai SDK's cursor: the files listed after this one
            ids = [r.id for r in records]
            records = records[ids.index(query["after"]) + 1:] if query["after"] in ids else []
        page, count, following, previous = paginate(call.request, records, query.get("page", 1))
        page = await ingestion.settle(page)
        now = await ingestion.now()
        workspaces, tags = await self.workspaces.named(call.user)
        # Beside the documented page, what the openai SDK's files.list() reads on this base URL: the
        # files as /api/v2/files lists them (``data``), and whether more follow (``has_more``).
        return json_response({"count": count, "next": following, "previous": previous,
                              "results": [v3_file(ingestion, r, now, workspaces, tags) for r in page],
                              "data": [v2_file(ingestion, r, now, workspaces) for r in page],
                              "has_more": following is not None})

    async def _by_relevance(self, text: str, records: list[FileRecord]) -> list[FileRecord]:
        """The files that match ``text`` (a chunk holding one of its words, or the words in the title or
        filename), the most relevant first: by their best chunk's fused score (``Retrieval.search``)."""
        if not records:
            return []
        by_id = {r.id: r for r in records}
        hits = await self.retrieval.search(text, file_ids=list(by_id), n=1 << 30)  # the viewer's files
        best: dict[int, float] = {}
        for hit in hits:
            if hit.lexical_score > 0 and hit.record.id not in best:
                best[hit.record.id] = hit.score
        needle = text.strip().lower()
        for record in records:
            named = needle in record.title.lower() or needle in record.filename.lower()
            if needle and named and record.id not in best:
                best[record.id] = 0.0
        return [by_id[i] for i in sorted(best, key=lambda i: (-best[i], -i))]

    # -- GET / PATCH / DELETE /api/v3/files/{id} -----------------------------------------------------------

    async def retrieve(self, call: Call) -> Response:
        record = (await self.ingestion.settle([await file_or_404(self.files, call)]))[0]
        include = call.query.get("include_content") is True
        content = await self.files.text(record) if include else None
        now = await self.ingestion.now()
        workspaces, tags = await self.workspaces.named(call.user)
        return json_response(v3_file(self.ingestion, record, now, workspaces, tags, content,
                                     include_content=include))

    async def update(self, call: Call) -> Response:
        record = await file_or_404(self.files, call)
        body = body_of(call)
        if not any(field in body for field in MUTABLE):
            raise ValidationError({"non_field_errors": [
                "No mutable field was given: only 'external_metadata', 'tags' and 'title' can be changed."]})
        title = body.get("title")
        tag_ids: list[int] | None = None
        if "tags" in body:
            tag_ids = [t for t in dict.fromkeys(body["tags"] or []) if t != 0]  # [0]: clear them all
            await self._tags_or_400("tags", tag_ids, call)
        metadata = body.get("external_metadata")
        if "external_metadata" in body and record.external_metadata is None and metadata is not None \
                and not metadata.get("external_id"):
            raise ValidationError({"external_metadata": {"external_id": [
                "This field is required when external metadata is created."]}})

        def change(current: FileRecord) -> FileRecord:
            changes: dict[str, Any] = {"updated_at": current.modified_at + 1}
            if title is not None:
                changes["title"] = title
            if tag_ids is not None:  # a replacement: every tag is now one a person chose
                changes["tag_ids"], changes["auto_tag_ids"] = tuple(tag_ids), ()
            if "external_metadata" in body:
                changes["external_metadata"] = _merged(current.external_metadata, metadata)
            return current.replace(**changes)

        updated = await self.files.update(record.id, change)
        if updated is None:
            raise NotFound()
        return json_response((await self._answer(await self.ingestion.settle([updated]), call.user))[0])

    async def add_tags(self, call: Call) -> Response:
        """POST /api/v3/files/{file_id}/tags: add tags (those it already has are ignored)."""
        record = await file_or_404(self.files, call, "file_id")
        wanted = list(dict.fromkeys(call.body["tags"]))
        await self._tags_or_400("tags", wanted, call)
        added = [t for t in wanted if t not in record.tag_ids]

        def change(current: FileRecord) -> FileRecord:
            new = [t for t in wanted if t not in current.tag_ids]
            if not new:
                return current
            return current.replace(tag_ids=current.tag_ids + tuple(new), updated_at=current.modified_at + 1)

        updated = await self.files.update(record.id, change)
        if updated is None:
            raise NotFound()
        answer = (await self._answer(await self.ingestion.settle([updated]), call.user))[0]
        answer["message"] = f"Added {len(added)} tag(s) to file (duplicates ignored)"
        return json_response(answer)

    async def destroy(self, call: Call) -> Response:
        record = await file_or_404(self.files, call)
        if not await self.files.delete(record.id):
            raise NotFound()  # deleted by a concurrent request
        return Response(status_code=204)
