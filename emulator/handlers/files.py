"""/api/v2/files: upload, list, retrieve, delete (the OpenAI SDK's client.files.* calls work on them).

A v2 file object carries OpenAI's fields (``id``, ``object: "file"``, ``bytes``,
``created_at``, ``filename``, ``purpose``, ``status``) and Paradigm's (``title``,
``workspace_id``, ``collection_type``, ``total_pages``). Ids are integers, as on
Paradigm; ``client.files.retrieve("3")`` works because the SDK puts the id in the
path as text. The upload helpers and DRF's page-number pagination live here too,
for v3's handlers.
"""

from __future__ import annotations

import math
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..bodies import MB, body_limit
from ..errors import NotFound, ValidationError
from ..documents.ingestion import EMBEDDED, FAILED, total_pages
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


def store_upload(call: Call, filename: str, data: bytes, workspace: Workspace, title: str | None,
                 purpose: str = "documents", tag_ids: tuple[int, ...] = (),
                 parser: str | None = None) -> FileRecord:
    if not filename.strip():
        raise ValidationError({"file": ["No filename could be determined."]})
    emulator = call.emulator
    record = emulator.store.add(NewFile(
        filename=filename, title=title or filename, purpose=purpose, workspace_id=workspace.id, raw=data,
        uploaded=emulator.ingestion.clock(), tag_ids=tag_ids, parser=parser))
    emulator.ingestion.start(record)
    return record


def does_not_exist(field: str, ids: list) -> ValidationError:
    """DRF's answer to primary keys that name nothing."""
    return ValidationError({field: [f'Invalid pk "{i}" - object does not exist.' for i in ids]})


def workspace_or_400(call: Call, field: str, workspace_id: Any) -> Workspace:
    workspace = call.emulator.workspaces.workspaces.get(workspace_id)
    if workspace is None:
        raise does_not_exist(field, [workspace_id])
    return workspace


def workspace_of(call: Call, record: FileRecord) -> Workspace:
    """The file's workspace (a snapshot may name one the fixtures no longer have)."""
    workspace = call.emulator.workspaces.workspaces.get(record.workspace_id)
    return workspace or Workspace(record.workspace_id, f"Workspace {record.workspace_id}", "custom")


def file_or_404(call: Call) -> FileRecord:
    record = call.emulator.store.get(call.path_params["id"])
    if record is None:
        raise NotFound()
    return record


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

def v2_file(call: Call, record: FileRecord, include_content: bool = False) -> dict[str, Any]:
    status = call.emulator.ingestion.status(record)
    workspace = workspace_of(call, record)
    document = record.document
    body = {
        "id": record.id, "object": "file", "bytes": record.size, "created_at": record.created_at,
        "filename": record.filename, "purpose": record.purpose, "status": status,
        "status_details": document.failure if status == FAILED and document else None,
        "title": record.title, "workspace_id": workspace.id,
        "collection_type": COLLECTION_TYPES.get(workspace.workspace_type, "workspace"),
        "total_pages": total_pages(record) if status in (EMBEDDED, FAILED) else 0,
    }
    if include_content:
        body["content"] = document.text if status == EMBEDDED and document else None
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
        workspace = workspace_or_400(call, "workspace_id", workspace_id)
    elif collection_type == "company":
        workspace = directory.company_workspace
    else:
        workspace = directory.personal
    record = store_upload(call, body.get("filename") or filename, data, workspace, body.get("title"),
                          purpose=body.get("purpose") or "documents")
    answer = v2_file(call, record)
    answer["status"] = "pending"  # every upload starts queued; the next request sees how far it got
    return json_response(answer, 201)


async def list_files(call: Call) -> Response:
    query = call.query
    emulator = call.emulator
    types = scoped_types(query.get("private_scope"), query.get("company_scope"), query.get("workspace_scope"))
    records = [r for r in emulator.store.list() if workspace_of(call, r).workspace_type in types]
    if "workspace_id" in query:
        records = [r for r in records if r.workspace_id == query["workspace_id"]]
    if "purpose" in query:
        records = [r for r in records if r.purpose == query["purpose"]]
    if "after" in query:  # the OpenAI SDK's cursor: files older than that id (the list is newest first)
        records = [r for r in records if r.id < query["after"]]
    page, count, following, previous = paginate(call.request, records, query.get("page", 1))
    await emulator.ingestion.settle(page)
    return json_response({"object": "list", "data": [v2_file(call, r) for r in page], "count": count,
                          "next": following, "previous": previous, "has_more": following is not None})


async def retrieve(call: Call) -> Response:
    record = file_or_404(call)
    await call.emulator.ingestion.settle([record])
    return json_response(v2_file(call, record, include_content=call.query.get("include_content") is True))


async def destroy(call: Call) -> Response:
    record = file_or_404(call)
    if not call.emulator.store.delete(record.id):
        raise NotFound()  # deleted by a concurrent request
    return json_response({"id": record.id, "object": "file", "deleted": True})
