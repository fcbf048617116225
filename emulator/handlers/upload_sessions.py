"""/api/v2/upload-session: batches of uploads, followed as one.

A session is a record of the state backend (``documents/upload_sessions.py``): whether it is still
valid, its ingestion pipeline, and the ids of the files added to it. The files themselves are
ordinary uploads in the shared file store (ingested like ``POST /api/v2/files``), each with the
session's uuid in its ``extra`` (v3 shows it as ``upload_session_uuid``); a session's ``documents``
are read from the store on every GET, so their statuses are the files' own.
"""

from __future__ import annotations

import uuid as uuidlib
from typing import Any

from starlette.responses import Response

from ..bodies import body_limit
from ..call import Call, Handler, json_response
from ..config import Settings
from ..documents.ingestion import Ingestion
from ..documents.store import FileStore
from ..documents.upload_sessions import UploadSession, UploadSessionStore
from ..documents.workspace_store import WorkspaceStore
from ..documents.workspaces import iso
from ..errors import NotFound, ValidationError
from ..identity.ownership import owner_fields, visible
from ..identity.users import User
from .files import read_upload, scripted_ingestion, store_upload, target_workspace, workspace_of


def _key(call: Call, name: str = "uuid") -> str:
    """The path's uuid, canonical; one that is not a uuid names nothing (Django's <uuid:> is a 404)."""
    try:
        return str(uuidlib.UUID(str(call.path_params[name])))
    except ValueError:
        raise NotFound() from None


class UploadSessions:
    """POST /api/v2/upload-session (+ /deactivate, /{uuid}), GET and DELETE /api/v2/upload-session/{uuid}."""

    def __init__(self, sessions: UploadSessionStore, files: FileStore, ingestion: Ingestion,
                 workspaces: WorkspaceStore, settings: Settings):
        self.sessions, self.files, self.ingestion, self.workspaces = sessions, files, ingestion, workspaces
        self.upload_limit = body_limit(settings, takes_file=True)

    def handlers(self) -> dict[str, Handler]:
        return {"api_v2_upload_session_create": self.create,
                "api_v2_upload_session_deactivate_create": self.deactivate,
                "api_v2_upload_session_file_create": self.add_file,
                "api_v2_upload_session_retrieve": self.retrieve,
                "api_v2_upload_session_destroy": self.destroy}

    async def _session_or_404(self, call: Call) -> UploadSession:
        session = await self.sessions.get(_key(call))
        if session is None or not visible(session.owner, call.user):
            raise NotFound()  # unknown, or another user's
        return session

    async def _body(self, session: UploadSession, viewer: User | None) -> dict[str, Any]:
        ingestion = self.ingestion
        # Files deleted through /files since are no longer part of the session.
        found = [r for r in await self.files.get_many(session.documents) if r is not None]
        records = await ingestion.settle(found)
        now = await ingestion.now()
        workspaces = await self.workspaces.every_workspace(viewer)
        documents, updated = [], max(session.created_at, session.updated_at)
        for record in records:
            workspace = workspace_of(workspaces, record)
            updated = max(updated, record.modified_at)
            documents.append({"id": record.id, "title": record.title, "collection": workspace.id,
                              "status": ingestion.status(record, now), "updated_at": iso(record.modified_at),
                              "workspace": workspace.name})
        return {"uuid": session.uuid, "is_valid": session.is_valid, "created_at": iso(session.created_at),
                "updated_at": iso(updated), "ingestion_pipeline": session.ingestion_pipeline,
                "documents": documents}

    # -- POST /api/v2/upload-session ------------------------------------------------------------------

    async def create(self, call: Call) -> Response:
        session = await self.sessions.create(call.body.get("ingestion_pipeline"), owner_fields(call.user))
        return json_response(await self._body(session, call.user), 201)

    # -- GET / DELETE /api/v2/upload-session/{uuid} ------------------------------------------------------

    async def retrieve(self, call: Call) -> Response:
        return json_response(await self._body(await self._session_or_404(call), call.user))

    async def destroy(self, call: Call) -> Response:
        session = await self._session_or_404(call)
        if not await self.sessions.delete(session.uuid):
            raise NotFound()  # deleted by a concurrent request
        for file_id in session.documents:
            await self.files.delete(file_id)
        return Response(status_code=204)

    # -- POST /api/v2/upload-session/deactivate --------------------------------------------------------

    async def deactivate(self, call: Call) -> Response:
        done = await self.sessions.deactivate_all(call.user)
        return json_response({"message": f"{len(done)} upload session(s) deactivated.", "deactivated": done})

    # -- POST /api/v2/upload-session/{uuid} --------------------------------------------------------------

    async def add_file(self, call: Call) -> Response:
        session = await self._session_or_404(call)
        if not session.is_valid:
            raise ValidationError({"non_field_errors": [
                "This upload session is no longer valid (it was deactivated): create a new one."]})
        body = call.body
        # Every check before anything is stored: a rejected upload leaves nothing behind.
        workspace = await target_workspace(self.workspaces, body.get("collection_type"),
                                           body.get("workspace_id", body.get("collection")), call.user)
        filename, data = await read_upload(call, self.upload_limit)
        record = await store_upload(
            self.files, body.get("filename") or filename, data, workspace, body.get("title"),
            parser=session.ingestion_pipeline, owner=call.user,
            visual=body.get("IS_VISUAL_INGESTION_ON"), script=scripted_ingestion(call),
            extra={"upload_session_uuid": session.uuid,
                   **{k: body[k] for k in ("chunk_size", "chunk_overlap") if body.get(k) is not None}})
        if not await self.sessions.attach(session.uuid, record.id, record.created_at):
            await self.files.delete(record.id)  # the session was deleted meanwhile: so is its file
            raise NotFound()
        return json_response({"message": f"File {record.filename!r} added to upload session {session.uuid}.",
                              "id": record.id})
