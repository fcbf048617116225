"""/api/v2/files: upload, list, retrieve, delete (the OpenAI SDK's client.files.* calls work on them).

A v2 file object carries OpenAI's fields (``id``, ``object: "file"``, ``bytes``,
``created_at``, ``filename``, ``purpose``, ``status``) and Paradigm's (``title``,
``workspace_id``, ``collection_type``, ``total_pages``). Ids are integers, as on
Paradigm; ``client.files.retrieve("3")`` works because the SDK puts the id in the
path as text. The upload helpers and DRF's page-number pagination live here too,
for v3's handlers.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..bodies import MB, body_limit
from ..errors import NotFound, ValidationError
from ..documents.images import image_info
from ..documents.ingestion import EMBEDDED, FAILED
from ..routing import Call, json_response
from ..documents.store import FileRecord, NewFile
from ..documents.workspaces import COLLECTION_TYPES, Workspace

PAGE_SIZE = 20  # Paradigm's, fixed: "cannot be modified"


# -- shared with v3 ---------------------------------------------------------------------------

async def read_upload(call: Call) -> tuple[str, bytes]:
    """The ``file`` part of a multipart upload -> (its filename, its bytes), within --max-upload-mb."""
    upload = call.uploads.get("file")
    if upload is None:
        raise ValidationError({"file": ["The submitted data was not a file. "
                                        "Check the encoding type on the form."]})
    try:
        data = await upload.read()
    finally:
        await upload.close()
    limit = body_limit(call.emulator.settings, takes_file=True)
    if len(data) > limit.mb * MB:  # the same message as a request too large to read at all
        raise limit.too_large(len(data))
    if not data:
        raise ValidationError({"file": ["The submitted file is empty."]})
    # As Django's UploadedFile does: a client's path ("C:\\docs\\a.pdf", "../a.pdf") is not part of the name.
    return (upload.filename or "").replace("\\", "/").rsplit("/", 1)[-1], data


async def store_upload(call: Call, filename: str, data: bytes, workspace: Workspace, title: str | None,
                       purpose: str = "documents", tag_ids: tuple[int, ...] = (),
                       auto_tag_ids: tuple[int, ...] = (), parser: str | None = None,
                       extra: dict[str, Any] | None = None) -> FileRecord:
    """Store an upload (its ingestion begins at once, off the event loop). A PNG or JPEG is kept as
    an image (``extra["image"]``: its format and size, read from its header), for image analysis."""
    if not filename.strip():
        raise ValidationError({"file": ["No filename could be determined."]})
    extra = dict(extra or {})
    image = image_info(data)
    if image is not None:
        extra["image"] = image
    return await call.emulator.files.add(NewFile(
        filename=filename, title=title or filename, purpose=purpose, workspace_id=workspace.id, raw=data,
        tag_ids=tag_ids, auto_tag_ids=auto_tag_ids, parser=parser, signature=signature(data), extra=extra))


def signature(data: bytes) -> str:
    """A file's ``signature``: Paradigm gives a TLSH digest (a locality-sensitive hash: "T1" and 70
    hex digits); this is one of that shape, drawn from the bytes' SHA-256 (equal files, equal
    signatures; not a similarity measure)."""
    digest = hashlib.shake_256(data).hexdigest(35)
    return "T1" + digest.upper()


def does_not_exist(field: str, ids: list) -> ValidationError:
    """DRF's answer to primary keys that name nothing."""
    return ValidationError({field: [f'Invalid pk "{i}" - object does not exist.' for i in ids]})


async def workspace_or_400(call: Call, field: str, workspace_id: Any) -> Workspace:
    workspace = await call.emulator.workspaces.workspace(workspace_id)
    if workspace is None:
        raise does_not_exist(field, [workspace_id])
    return workspace


def workspace_of(workspaces: dict[int, Workspace], record: FileRecord) -> Workspace:
    """The file's workspace, among ``workspaces`` (a snapshot may name one that is no longer there)."""
    workspace = workspaces.get(record.workspace_id)
    return workspace or Workspace(record.workspace_id, f"Workspace {record.workspace_id}", "custom")


async def file_or_404(call: Call, param: str = "id") -> FileRecord:
    record = await call.emulator.files.get(call.path_params[param])
    if record is None:
        raise NotFound()
    return record


async def settled(call: Call, record: FileRecord) -> FileRecord:
    """The file as it is once its ingestion is over (if its time is up)."""
    return (await call.emulator.ingestion.settle([record]))[0]


def scoped_types(private: Any, company: Any, workspace: Any) -> set[str]:
    """Paradigm's scope flags -> the workspace types they select: any flag set to true keeps only the
    spaces flagged true; a flag set to false removes its space; no flag at all selects everything."""
    flags = {"personal": private, "company": company, "custom": workspace}
    chosen = {kind for kind, flag in flags.items() if flag is True} or set(flags)
    return {kind for kind in chosen if flags[kind] is not False}


def paginate(request: Request, items: list, page: int, size: int = PAGE_SIZE) -> tuple[list, int, Any, Any]:
    """DRF's PageNumberPagination: -> (the page's items, count, next URL, previous URL)."""
    count = len(items)
    last = max(1, math.ceil(count / size))
    if page < 1 or page > last:
        raise NotFound("Invalid page.")
    url = request.url
    following = str(url.include_query_params(page=page + 1)) if page < last else None
    if page == 1:
        previous = None
    elif page == 2:
        previous = str(url.remove_query_params("page"))
    else:
        previous = str(url.include_query_params(page=page - 1))
    return items[(page - 1) * size:page * size], count, following, previous


# -- v2 ---------------------------------------------------------------------------------------

def total_pages(status: str, record: FileRecord) -> int:
    return record.total_pages if status == EMBEDDED else 0


def v2_file(call: Call, record: FileRecord, now: float, workspaces: dict[int, Workspace],
            content: str | None = None, include_content: bool = False) -> dict[str, Any]:
    status = call.emulator.ingestion.status(record, now)
    workspace = workspace_of(workspaces, record)
    body = {
        "id": record.id, "object": "file", "bytes": record.size, "created_at": record.created_at,
        "filename": record.filename, "purpose": record.purpose, "status": status,
        "status_details": record.failure if status == FAILED else None,
        "title": record.title, "workspace_id": workspace.id,
        "collection_type": COLLECTION_TYPES.get(workspace.workspace_type, "workspace"),
        "total_pages": total_pages(status, record), "signature": record.signature,
    }
    if include_content:
        body["content"] = content if status == EMBEDDED else None
    return body


async def create(call: Call) -> Response:
    filename, data = await read_upload(call)
    body = call.body
    collection_type = body.get("collection_type")
    workspace_id = body.get("workspace_id")
    directory = call.emulator.workspaces
    if collection_type == "workspace" or (collection_type is None and workspace_id is not None):
        if workspace_id is None:
            raise ValidationError({"workspace_id": ['This field is required when collection_type '
                                                    'is "workspace".']})
        workspace = await workspace_or_400(call, "workspace_id", workspace_id)
    elif collection_type == "company":
        workspace = await directory.company_workspace()
    else:
        workspace = await directory.personal()
    record = await store_upload(call, body.get("filename") or filename, data, workspace, body.get("title"),
                                purpose=body.get("purpose") or "documents")
    answer = v2_file(call, record, record.uploaded, {workspace.id: workspace})
    answer["status"] = "pending"  # every upload starts queued; the next request sees how far it got
    # 200, not the 201 a REST create would give: the OpenAI-compatible upload, as clients assert it.
    return json_response(answer, 200)


async def list_files(call: Call) -> Response:
    query = call.query
    emulator = call.emulator
    types = scoped_types(query.get("private_scope"), query.get("company_scope"), query.get("workspace_scope"))
    workspaces = await emulator.workspaces.workspaces()
    records = [r for r in await emulator.files.list() if workspace_of(workspaces, r).workspace_type in types]
    if "workspace_id" in query:
        records = [r for r in records if r.workspace_id == query["workspace_id"]]
    if "purpose" in query:
        records = [r for r in records if r.purpose == query["purpose"]]
    if "after" in query:  # the OpenAI SDK's cursor: files older than that id (the list is newest first)
        records = [r for r in records if r.id < query["after"]]
    page, count, following, previous = paginate(call.request, records, query.get("page", 1))
    page = await emulator.ingestion.settle(page)
    now = await emulator.ingestion.now()
    return json_response({"object": "list", "data": [v2_file(call, r, now, workspaces) for r in page],
                          "count": count,
                          "next": following, "previous": previous, "has_more": following is not None})


async def retrieve(call: Call) -> Response:
    record = await settled(call, await file_or_404(call))
    include = call.query.get("include_content") is True
    content = await call.emulator.files.text(record) if include else None
    now = await call.emulator.ingestion.now()
    workspaces = await call.emulator.workspaces.workspaces()
    return json_response(v2_file(call, record, now, workspaces, content, include_content=include))


async def chunks(call: Call) -> Response:
    """GET /api/v2/files/{id}/chunks: the file's chunks in order, with the uuids filter/chunks takes."""
    record = await settled(call, await file_or_404(call))
    now = await call.emulator.ingestion.now()
    status = call.emulator.ingestion.status(record, now)
    found = await call.emulator.files.chunks(record) if status == EMBEDDED else []
    return json_response({"id": record.id, "filename": record.filename, "status": status,
                          "total_pages": total_pages(status, record), "count": len(found), "chunks": [
                              {"uuid": c.uuid, "index": c.index, "text": c.text,
                               "metadata": {"document_id": record.id, "pages": [c.page],
                                            "total_pages": record.total_pages}} for c in found]})


async def destroy(call: Call) -> Response:
    record = await file_or_404(call)
    if not await call.emulator.files.delete(record.id):
        raise NotFound()  # deleted by a concurrent request
    return json_response({"id": record.id, "object": "file", "deleted": True})
