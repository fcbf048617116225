"""A file as /api/v3 shows it: the body of every v3 file answer (files, retrieve, agent files)."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from ..documents.extraction import extension
from ..documents.ingestion import EMBEDDED, FAILURES, PENDING, Ingestion
from ..documents.store import FileRecord
from ..documents.workspaces import Tag, Workspace, iso
from .files import total_pages, workspace_of

# Who uploaded a file when no --users file names the uploader: the emulator's one user.
CREATED_BY = {"id": 1, "first_name": "Emulator", "last_name": "User", "username": "emulator"}
DEFAULT_PARSER = "v3.0"  # the ingestion pipeline a file names once its parsing has begun


def v3_file(ingestion: Ingestion, record: FileRecord, now: float, workspaces: dict[int, Workspace],
            tags: dict[int, Tag], content: str | None = None,
            include_content: bool = False) -> dict[str, Any]:
    status = ingestion.status(record, now)
    created = iso(record.created_at)
    session = record.extra.get("upload_session_uuid")
    if session is None:
        digest = hashlib.sha256(f"upload-session:{record.id}:{record.created_at}".encode()).digest()
        session = str(uuid.UUID(bytes=digest[:16], version=4))
    body = {
        "id": record.id, "filename": record.filename, "workspace": workspace_of(workspaces, record).summary(),
        "summaries": [], "title": record.title, "extension": extension(record.filename), "status": status,
        "status_vision": ingestion.status_vision(record, now),
        "status_detail": record.failure if status in FAILURES else None,
        "uploaded_at": created, "created_at": created, "updated_at": iso(record.modified_at),
        "total_pages": total_pages(status, record),
        "tags": [{"id": t, "name": tags[t].name, "auto_assigned": t in record.auto_tag_ids}
                 for t in record.tag_ids if t in tags],
        "created_by": record.extra.get("created_by") or CREATED_BY, "upload_session_uuid": session,
        "external_metadata": record.external_metadata, "signature": record.signature,
        "file_size": record.size, "parser": record.parser or (None if status == PENDING else DEFAULT_PARSER),
    }
    if include_content:
        body["content"] = content if status == EMBEDDED else None
    return body
