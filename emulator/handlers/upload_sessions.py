"""/api/v2/upload-session: batches of uploads, followed as one.

A session is a value in the state backend (space ``upload-sessions``, keyed by its uuid): whether it
is still valid, its ingestion pipeline, and the ids of the files added to it. The files themselves
are ordinary uploads in the shared file store (ingested like ``POST /api/v2/files``), each with the
session's uuid in its ``extra`` (v3 shows it as ``upload_session_uuid``); a session's ``documents``
are read from the store on every GET, so their statuses are the files' own.

Uuids are drawn from the seed and a counter of the backend, timestamps from the epoch and that
counter: the same run of requests gives the same sessions on every worker and every run.
"""

from __future__ import annotations

import dataclasses
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from ..documents.workspaces import Workspace, iso
from ..errors import NotFound, ValidationError
from ..generation.text import request_key
from ..routing import Call, json_response
from . import files

SPACE = "upload-sessions"
COUNTER = "upload-session-ids"


@dataclass(frozen=True)
class UploadSession:
    """One session, as the value the backend keeps (``value()`` / ``of()``)."""

    uuid: str
    number: int  # its place in the backend's counter: what its uuid and created_at are drawn from
    created_at: int  # Unix seconds: the epoch plus ``number``
    ingestion_pipeline: str | None = None
    is_valid: bool = True
    documents: tuple[int, ...] = ()  # the ids of the files added, in order
    updated_at: int = 0  # the created_at of the last file added (0: none yet)

    def value(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "documents": list(self.documents)}

    @classmethod
    def of(cls, value: Any) -> "UploadSession":
        return cls(**{**value, "documents": tuple(value.get("documents") or ())})


def session_uuid(seed: int, number: int) -> str:
    return str(uuidlib.UUID(bytes=request_key("upload-session", seed, number)[:16], version=4))


def _key(call: Call, name: str = "uuid") -> str:
    """The path's uuid, canonical; one that is not a uuid names nothing (Django's <uuid:> is a 404)."""
    try:
        return str(uuidlib.UUID(str(call.path_params[name])))
    except ValueError:
        raise NotFound() from None


async def _session_or_404(call: Call) -> UploadSession:
    value = await call.emulator.state.get(SPACE, _key(call))
    if not isinstance(value, dict):
        raise NotFound()
    return UploadSession.of(value)


def _changed(change: Callable[[UploadSession], UploadSession]) -> Callable[[Any], Any]:
    """A session change as the backend's ``update`` takes it (a session gone stays gone)."""
    return lambda value: change(UploadSession.of(value)).value() if isinstance(value, dict) else None


async def _body(call: Call, session: UploadSession) -> dict[str, Any]:
    ingestion = call.emulator.ingestion
    # Files deleted through /files since are no longer part of the session.
    found = [r for r in await call.emulator.files.get_many(session.documents) if r is not None]
    records = await ingestion.settle(found)
    now = await ingestion.now()
    workspaces = await call.emulator.workspaces.workspaces()
    documents, updated = [], max(session.created_at, session.updated_at)
    for record in records:
        workspace = files.workspace_of(workspaces, record)
        updated = max(updated, record.modified_at)
        documents.append({"id": record.id, "title": record.title, "collection": workspace.id,
                          "status": ingestion.status(record, now), "updated_at": iso(record.modified_at),
                          "workspace": workspace.name})
    return {"uuid": session.uuid, "is_valid": session.is_valid, "created_at": iso(session.created_at),
            "updated_at": iso(updated), "ingestion_pipeline": session.ingestion_pipeline,
            "documents": documents}


# -- POST /api/v2/upload-session ------------------------------------------------------------------

async def create(call: Call) -> Response:
    emulator = call.emulator
    number = await emulator.state.next_id(COUNTER)
    session = UploadSession(uuid=session_uuid(emulator.settings.seed, number), number=number,
                            created_at=emulator.settings.epoch + number,
                            ingestion_pipeline=call.body.get("ingestion_pipeline"))
    await emulator.state.put(SPACE, session.uuid, session.value())
    return json_response(await _body(call, session), 201)


# -- GET / DELETE /api/v2/upload-session/{uuid} ------------------------------------------------------

async def retrieve(call: Call) -> Response:
    return json_response(await _body(call, await _session_or_404(call)))


async def destroy(call: Call) -> Response:
    session = await _session_or_404(call)
    if not await call.emulator.state.delete(SPACE, session.uuid):
        raise NotFound()  # deleted by a concurrent request
    for file_id in session.documents:
        await call.emulator.files.delete(file_id)
    return Response(status_code=204)


# -- POST /api/v2/upload-session/deactivate --------------------------------------------------------

async def deactivate(call: Call) -> Response:
    state = call.emulator.state
    invalidate = _changed(lambda session: dataclasses.replace(session, is_valid=False))
    done = []
    for key, value in (await state.items(SPACE)).items():
        if isinstance(value, dict) and UploadSession.of(value).is_valid:
            await state.update(SPACE, key, invalidate)
            done.append(key)
    return json_response({"message": f"{len(done)} upload session(s) deactivated.", "deactivated": done})


# -- POST /api/v2/upload-session/{uuid} --------------------------------------------------------------

async def _workspace(call: Call, collection_type: str | None, workspace_id: Any) -> Workspace:
    """Where the file goes, as for POST /api/v2/files: ``collection_type`` private (the default),
    company, or workspace (then ``workspace_id`` names it; a ``workspace_id`` alone implies it)."""
    directory = call.emulator.workspaces
    if collection_type == "workspace" or (collection_type is None and workspace_id is not None):
        if workspace_id is None:
            raise ValidationError({"workspace_id": ['This field is required when collection_type '
                                                    'is "workspace".']})
        return await files.workspace_or_400(call, "workspace_id", workspace_id)
    if collection_type == "company":
        return await directory.company_workspace()
    return await directory.personal()


async def add_file(call: Call) -> Response:
    session = await _session_or_404(call)
    if not session.is_valid:
        raise ValidationError({"non_field_errors": [
            "This upload session is no longer valid (it was deactivated): create a new one."]})
    body = call.body
    # Every check before anything is stored: a rejected upload leaves nothing behind.
    workspace = await _workspace(call, body.get("collection_type"),
                                 body.get("workspace_id", body.get("collection")))
    filename, data = await files.read_upload(call)
    record = await files.store_upload(
        call, body.get("filename") or filename, data, workspace, body.get("title"),
        parser=session.ingestion_pipeline,
        extra={"upload_session_uuid": session.uuid,
               **{k: body[k] for k in ("chunk_size", "chunk_overlap") if body.get(k) is not None}})
    attach = _changed(lambda current: dataclasses.replace(
        current, documents=(*current.documents, record.id), updated_at=record.created_at))
    if await call.emulator.state.update(SPACE, session.uuid, attach) is None:
        await call.emulator.files.delete(record.id)  # the session was deleted meanwhile: so is its file
        raise NotFound()
    return json_response({"message": f"File {record.filename!r} added to upload session {session.uuid}.",
                          "id": record.id})
