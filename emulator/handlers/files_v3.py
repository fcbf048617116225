"""/api/v3/files, /api/v3/workspaces, /api/v3/tags.

v3 files live in the same store as v2's (an upload through one API is listed by
the other). A v3 upload names its workspace (``workspace_id`` is required) and
answers ``status: "pending"`` with ``message: "File queued for processing"``;
clients poll GET /api/v3/files/{id} until ``embedded``. Lists are DRF pages of 20:
``{count, next, previous, results}``.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from starlette.responses import Response

from ..errors import NotFound, ValidationError
from ..documents.extraction import extension
from ..routing import Call, json_response
from ..documents.store import FileRecord
from ..documents.workspaces import iso
from .files import (does_not_exist, file_or_404, paginate, read_upload, settled, store_upload, total_pages,
                    workspace_of, workspace_or_400)

# Who uploaded everything: the emulator has one user, the owner of every API key.
CREATED_BY = {"id": 1, "first_name": "Emulator", "last_name": "User", "username": "emulator"}


def v3_file(call: Call, record: FileRecord, now: float) -> dict[str, Any]:
    status = call.emulator.ingestion.status(record, now)
    tags = call.emulator.workspaces.tags
    created = iso(record.created_at)
    digest = hashlib.sha256(f"upload-session:{record.id}:{record.created_at}".encode()).digest()
    return {
        "id": record.id, "filename": record.filename, "workspace": workspace_of(call, record).summary(),
        "summaries": [], "title": record.title, "extension": extension(record.filename), "status": status,
        "status_vision": None, "uploaded_at": created, "created_at": created, "updated_at": created,
        "total_pages": total_pages(status, record),
        "tags": [{"id": t, "name": tags[t].tag, "auto_assigned": tags[t].artificial}
                 for t in record.tag_ids if t in tags],
        "created_by": CREATED_BY, "upload_session_uuid": str(uuid.UUID(bytes=digest[:16], version=4)),
        "external_metadata": None,
    }


def ids_of(field: str, raw: Any) -> set[int]:
    """A comma-separated list of ids (``"1,3"``), as the v3 list filters take them."""
    try:
        return {int(part) for part in str(raw).split(",") if part.strip()}
    except ValueError:
        raise ValidationError({field: [f'"{raw}" is not a list of ids: give integers separated by commas, '
                                       f'such as "1,3".']}) from None


async def create(call: Call) -> Response:
    filename, data = await read_upload(call)
    body = call.body
    workspace = workspace_or_400(call, "workspace_id", body["workspace_id"])
    tag_ids = body.get("tags") or []
    unknown = [t for t in tag_ids if t not in call.emulator.workspaces.tags]
    if unknown:
        raise does_not_exist("tags", unknown)
    record = await store_upload(call, body.get("filename") or filename, data, workspace, body.get("title"),
                                tag_ids=tuple(dict.fromkeys(tag_ids)), parser=body.get("parser"))
    answer = v3_file(call, record, record.uploaded)
    answer["status"] = "pending"  # the answer Paradigm gives: queued, whatever happens next
    answer["message"] = "File queued for processing"
    return json_response(answer, 201)


async def list_files(call: Call) -> Response:
    query = call.query
    emulator = call.emulator
    records = await emulator.files.list()
    if "workspace_id" in query:
        wanted = ids_of("workspace_id", query["workspace_id"])
        records = [r for r in records if r.workspace_id in wanted]
    if "tag_id" in query:
        wanted = ids_of("tag_id", query["tag_id"])
        records = [r for r in records if wanted.intersection(r.tag_ids)]
    if "extension" in query:
        wanted_ext = {e.strip().lstrip(".").lower() for e in str(query["extension"]).split(",") if e.strip()}
        records = [r for r in records if extension(r.filename) in wanted_ext]
    for field in ("filename", "title"):
        if field in query:
            needle = str(query[field]).lower()
            records = [r for r in records if needle in getattr(r, field).lower()]
    if "status" in query:
        records = await emulator.ingestion.settle(records)
        now = await emulator.ingestion.now()
        records = [r for r in records if emulator.ingestion.status(r, now) == query["status"]]
    page, count, following, previous = paginate(call.request, records, query.get("page", 1))
    page = await emulator.ingestion.settle(page)
    now = await emulator.ingestion.now()
    return json_response({"count": count, "next": following, "previous": previous,
                          "results": [v3_file(call, r, now) for r in page]})


async def retrieve(call: Call) -> Response:
    record = await settled(call, await file_or_404(call))
    return json_response(v3_file(call, record, await call.emulator.ingestion.now()))


async def destroy(call: Call) -> Response:
    record = await file_or_404(call)
    if not await call.emulator.files.delete(record.id):
        raise NotFound()  # deleted by a concurrent request
    return Response(status_code=204)


async def list_workspaces(call: Call) -> Response:
    query = call.query
    directory = call.emulator.workspaces
    counts: dict[int, int] = {}
    for record in await call.emulator.files.list():
        counts[record.workspace_id] = counts.get(record.workspace_id, 0) + 1
    workspaces = list(directory.workspaces.values())
    if "name" in query:
        needle = str(query["name"]).lower()
        workspaces = [w for w in workspaces if needle in w.name.lower()]
    if "workspace_type" in query:
        workspaces = [w for w in workspaces if w.workspace_type == query["workspace_type"]]
    page, count, following, previous = paginate(call.request, workspaces, query.get("page", 1),
                                                query.get("page_size", 20))
    created = iso(call.emulator.settings.epoch)
    return json_response({"count": count, "next": following, "previous": previous, "results": [
        {**w.summary(), "description": w.description, "file_count": counts.get(w.id, 0),
         "created_at": created} for w in page]})


async def list_tags(call: Call) -> Response:
    query = call.query
    tags = sorted(call.emulator.workspaces.tags.values(), key=lambda t: (t.created_at, t.id), reverse=True)
    if "artificial" in query:
        tags = [t for t in tags if t.artificial is query["artificial"]]
    if "tag" in query:
        needle = str(query["tag"]).lower()
        tags = [t for t in tags if needle in t.tag.lower()]
    page, count, following, previous = paginate(call.request, tags, query.get("page", 1))
    return json_response({"count": count, "next": following, "previous": previous, "results": [
        {"id": t.id, "created_at": iso(t.created_at), "updated_at": iso(t.created_at), "tag": t.tag,
         "description": t.description, "artificial": t.artificial} for t in page]})
