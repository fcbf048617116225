"""/api/v2/files: upload, list, retrieve, delete (the OpenAI SDK's client.files.* calls work on them).

A v2 file object carries OpenAI's fields (``id``, ``object: "file"``, ``bytes``,
``created_at``, ``filename``, ``purpose``, ``status``) and Paradigm's (``title``,
``workspace_id``, ``collection_type``, ``total_pages``). Ids are integers, as on
Paradigm; ``client.files.retrieve("3")`` works because the SDK puts the id in the
path as text. The upload helpers live here too, for v3's handlers and upload sessions.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from starlette.datastructures import UploadFile
from starlette.responses import Response

from ..bodies import MB, BodyLimit, body_limit
from ..call import Call, Handler, json_response
from ..config import Settings
from ..documents import statuses
from ..documents.images import image_info
from ..documents.ingestion import EMBEDDED, FAILURES, Ingestion
from ..documents.store import FileRecord, FileStore, NewFile
from ..documents.workspace_store import WorkspaceStore
from ..documents.workspaces import COLLECTION_TYPES, Workspace, scoped_types
from ..errors import NotFound, ValidationError
from ..identity.ownership import COMPANY, PRIVATE, WORKSPACE, created_by, owner_fields
from ..identity.users import User
from .common import does_not_exist, paginate

# -- shared with v3 and the upload sessions ------------------------------------------------------

async def read_part(call: Call, field: str) -> tuple[UploadFile, bytes]:
    """The multipart part ``field`` (closed once read) and its bytes; a 400 if it is not a file."""
    upload = call.uploads.get(field)
    if upload is None:
        raise ValidationError({field: ["The submitted data was not a file. "
                                       "Check the encoding type on the form."]})
    try:
        data = await upload.read()
    finally:
        await upload.close()
    return upload, data


def base_name(filename: str) -> str:
    """As Django's UploadedFile does: a client's path ("C:\\docs\\a.pdf", "../a.pdf") is not part of
    the name."""
    return filename.replace("\\", "/").rsplit("/", 1)[-1]


async def read_upload(call: Call, limit: BodyLimit) -> tuple[str, bytes]:
    """The ``file`` part of a multipart upload -> (its filename, its bytes), within ``limit``
    (--max-upload-mb)."""
    upload, data = await read_part(call, "file")
    if len(data) > limit.mb * MB:  # the same message as a request too large to read at all
        raise limit.too_large(len(data))
    if not data:
        raise ValidationError({"file": ["The submitted file is empty."]})
    return base_name(upload.filename or ""), data


def scripted_ingestion(call: Call) -> dict[str, Any] | None:
    """How a fixture that matched this upload says its ingestion ends (``response.ingestion``)."""
    script = call.script
    scripted = script.response.get("ingestion") if script is not None else None
    return dict(scripted) if isinstance(scripted, dict) else None


async def store_upload(files: FileStore, filename: str, data: bytes, workspace: Workspace, title: str | None,
                       purpose: str = "documents", tag_ids: tuple[int, ...] = (),
                       auto_tag_ids: tuple[int, ...] = (), parser: str | None = None,
                       extra: dict[str, Any] | None = None, owner: User | None = None,
                       visual: bool | None = None, script: dict[str, Any] | None = None) -> FileRecord:
    """Store an upload (its ingestion begins at once, off the event loop). A PNG or JPEG is kept as
    an image (``extra["image"]``: its format and size, read from its header), for image analysis.
    The uploader owns it: a file of their personal workspace is theirs alone, one of a custom workspace
    made at run time that workspace's members', one of the company's or of a seeded workspace their
    company's (``identity/ownership.py``). ``parser`` and ``visual``
    (IS_VISUAL_INGESTION_ON) say whether it goes through vision, ``script`` how a fixture says its
    ingestion ends (``statuses``)."""
    if not filename.strip():
        raise ValidationError({"file": ["No filename could be determined."]})
    scope = upload_scope(workspace)
    extra = {**(extra or {}), **owner_fields(owner, scope), **statuses.upload_extra(parser, visual, script)}
    creator = created_by(owner)
    if creator is not None:
        extra["created_by"] = creator
    image = image_info(data)
    if image is not None:
        extra["image"] = image
    return await files.add(NewFile(
        filename=filename, title=title or filename, purpose=purpose, workspace_id=workspace.id, raw=data,
        tag_ids=tag_ids, auto_tag_ids=auto_tag_ids, parser=parser, signature=await signed(data), extra=extra))


def upload_scope(workspace: Workspace) -> str:
    """Who may see a file uploaded to ``workspace``: the uploader (personal), the members (a custom
    workspace someone made at run time), or the uploader's company."""
    if workspace.workspace_type == "personal":
        return PRIVATE
    if workspace.workspace_type == "custom" and workspace.owner:
        return WORKSPACE
    return COMPANY


# Above this, an upload's signature is hashed in a thread (hashlib hands the GIL over for it): 20
# MB hashed on the event loop held every other request for ~50 ms.
SIGNED_OFF_LOOP = 1024 * 1024


async def signed(data: bytes) -> str:
    """``signature(data)``, off the event loop for a large upload."""
    if len(data) > SIGNED_OFF_LOOP:
        return await asyncio.to_thread(signature, data)
    return signature(data)


def signature(data: bytes) -> str:
    """A file's ``signature``: Paradigm gives a TLSH digest (a locality-sensitive hash: "T1" and 70
    hex digits); this is one of that shape, drawn from the bytes' SHA-256 (equal files, equal
    signatures; not a similarity measure)."""
    digest = hashlib.shake_256(data).hexdigest(35)
    return "T1" + digest.upper()


async def workspace_or_400(workspaces: WorkspaceStore, field: str, workspace_id: Any,
                           user: User | None) -> Workspace:
    """The workspace named, if the caller sees it; else the 400 of an id that does not exist."""
    workspace = await workspaces.workspace(workspace_id, user)
    if workspace is None:
        raise does_not_exist(field, [workspace_id])
    return workspace


async def target_workspace(workspaces: WorkspaceStore, collection_type: str | None,
                           workspace_id: Any, user: User | None) -> Workspace:
    """Where a v2 upload goes: ``collection_type`` private (the default), company, or workspace (then
    ``workspace_id`` names it; a ``workspace_id`` alone implies it)."""
    if collection_type == "workspace" or (collection_type is None and workspace_id is not None):
        if workspace_id is None:
            raise ValidationError({"workspace_id": ['This field is required when collection_type '
                                                    'is "workspace".']})
        return await workspace_or_400(workspaces, "workspace_id", workspace_id, user)
    if collection_type == "company":
        return await workspaces.company_workspace(user)
    return await workspaces.personal(user)


def workspace_of(workspaces: dict[int, Workspace], record: FileRecord) -> Workspace:
    """The file's workspace, among ``workspaces`` (a snapshot may name one that is no longer there)."""
    workspace = workspaces.get(record.workspace_id)
    return workspace or Workspace(record.workspace_id, f"Workspace {record.workspace_id}", "custom")


async def file_or_404(files: FileStore, call: Call, param: str = "id") -> FileRecord:
    """The path's file, if the caller may see it; else DRF's 404 (another user's file included)."""
    record = await files.get(call.path_params[param], viewer=call.user)
    if record is None:
        raise NotFound()
    return record


def total_pages(status: str, record: FileRecord) -> int:
    return record.total_pages if status == EMBEDDED else 0


# -- v2 ---------------------------------------------------------------------------------------

def v2_file(ingestion: Ingestion, record: FileRecord, now: float, workspaces: dict[int, Workspace],
            content: str | None = None, include_content: bool = False) -> dict[str, Any]:
    status = ingestion.status(record, now)
    workspace = workspace_of(workspaces, record)
    body = {
        "id": record.id, "object": "file", "bytes": record.size, "created_at": record.created_at,
        "filename": record.filename, "purpose": record.purpose, "status": status,
        "status_details": record.failure if status in FAILURES else None,
        "title": record.title, "workspace_id": workspace.id,
        "collection_type": COLLECTION_TYPES.get(workspace.workspace_type, "workspace"),
        "total_pages": total_pages(status, record), "signature": record.signature,
    }
    if include_content:
        body["content"] = content if status == EMBEDDED else None
    return body


class Files:
    """/api/v2/files and /api/v2/files/{id}/chunks."""

    def __init__(self, files: FileStore, ingestion: Ingestion, workspaces: WorkspaceStore,
                 settings: Settings):
        self.files, self.ingestion, self.workspaces = files, ingestion, workspaces
        self.upload_limit = body_limit(settings, takes_file=True)

    def handlers(self) -> dict[str, Handler]:
        return {"api_v2_files_create": self.create, "api_v2_files_list": self.list_files,
                "api_v2_files_retrieve": self.retrieve, "api_v2_files_destroy": self.destroy,
                "api_v2_files_chunks_retrieve": self.chunks}

    async def _settled(self, call: Call) -> FileRecord:
        """The path's file as it is once its ingestion is over (if its time is up)."""
        return (await self.ingestion.settle([await file_or_404(self.files, call)]))[0]

    async def create(self, call: Call) -> Response:
        filename, data = await read_upload(call, self.upload_limit)
        body = call.body
        workspace = await target_workspace(self.workspaces, body.get("collection_type"),
                                           body.get("workspace_id"), call.user)
        record = await store_upload(self.files, body.get("filename") or filename, data, workspace,
                                    body.get("title"), purpose=body.get("purpose") or "documents",
                                    owner=call.user, script=scripted_ingestion(call))
        answer = v2_file(self.ingestion, record, record.uploaded, {workspace.id: workspace})
        answer["status"] = "pending"  # every upload starts queued; the next request sees how far it got
        # 200, not the 201 a REST create would give: the OpenAI-compatible upload, as clients assert it.
        return json_response(answer, 200)

    async def list_files(self, call: Call) -> Response:
        query = call.query
        types = scoped_types(query.get("private_scope"), query.get("company_scope"),
                             query.get("workspace_scope"))
        workspaces = await self.workspaces.every_workspace(call.user)
        records = [r for r in await self.files.all(call.user)
                   if workspace_of(workspaces, r).workspace_type in types]
        if "workspace_id" in query:
            records = [r for r in records if r.workspace_id == query["workspace_id"]]
        if "purpose" in query:
            records = [r for r in records if r.purpose == query["purpose"]]
        if "after" in query:  # the OpenAI SDK's cursor: files older than that id (the list is newest first)
            records = [r for r in records if r.id < query["after"]]
        page, count, following, previous = paginate(call.request, records, query.get("page", 1))
        page = await self.ingestion.settle(page)
        now = await self.ingestion.now()
        return json_response({"object": "list",
                              "data": [v2_file(self.ingestion, r, now, workspaces) for r in page],
                              "count": count,
                              "next": following, "previous": previous, "has_more": following is not None})

    async def retrieve(self, call: Call) -> Response:
        record = await self._settled(call)
        include = call.query.get("include_content") is True
        content = await self.files.text(record) if include else None
        now = await self.ingestion.now()
        workspaces = await self.workspaces.every_workspace(call.user)
        return json_response(v2_file(self.ingestion, record, now, workspaces, content,
                                     include_content=include))

    async def chunks(self, call: Call) -> Response:
        """GET /api/v2/files/{id}/chunks: the file's chunks in order, with the uuids filter/chunks takes."""
        record = await self._settled(call)
        now = await self.ingestion.now()
        status = self.ingestion.status(record, now)
        found = await self.files.chunks(record) if status == EMBEDDED else []
        return json_response({"id": record.id, "filename": record.filename, "status": status,
                              "total_pages": total_pages(status, record), "count": len(found), "chunks": [
                                  {"uuid": c.uuid, "index": c.index, "text": c.text,
                                   "metadata": {"document_id": record.id, "pages": [c.page],
                                                "total_pages": record.total_pages}} for c in found]})

    async def destroy(self, call: Call) -> Response:
        record = await file_or_404(self.files, call)
        if not await self.files.delete(record.id):
            raise NotFound()  # deleted by a concurrent request
        return json_response({"id": record.id, "object": "file", "deleted": True})
