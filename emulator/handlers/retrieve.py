"""POST /api/v3/retrieve: the chunks that best answer a query, with their scoring, document and workspace.

Built on ``Retrieval.search``, the hybrid (BM25 + vector) search every other search of the
emulator uses, so ``scoring`` carries the very numbers it ranks by: ``score`` (fused),
``distance`` (cosine distance), ``lexical_score`` (BM25) and ``certainty``. ``mode: vision``
searches the same chunks and reports them as vision chunks (the emulator reads no page images).
The scopes choose the files searched, as in document search: ``file_ids``, else ``workspace_ids``
and the private/company flags (every file when none is given).
"""

from __future__ import annotations

import uuid as uuidlib
from typing import Any

from starlette.responses import Response

from ..call import Call, Handler, json_response
from ..documents.extraction import extension
from ..documents.ingestion import Ingestion
from ..documents.retrieval import Retrieval
from ..documents.store import FileStore, Hit
from ..documents.workspace_store import WorkspaceStore
from ..documents.workspaces import iso
from .tools import in_scope  # retrieve's scopes are document search's
from .v3_file import v3_file


def chunk_id(chunk_uuid: str) -> int:
    """A chunk's integer id, from its uuid (the same one document-search's extracts carry)."""
    return int.from_bytes(uuidlib.UUID(chunk_uuid).bytes[:6], "big")


def _result(hit: Hit, mode: str, file: dict[str, Any]) -> dict[str, Any]:
    """One result; ``file`` is the chunk's file as v3 shows it (its status, workspace and tags)."""
    record, chunk = hit.record, hit.chunk
    updated = iso(record.modified_at)
    return {
        "chunk": {"id": chunk_id(chunk.uuid), "uuid": chunk.uuid, "content_id": f"content_id_{chunk.uuid}",
                  "text": chunk.text, "chunk_type": mode,
                  "metadata": {"pages": str(chunk.page), "total_pages": str(record.total_pages)},
                  "created_at": iso(record.created_at), "updated_at": updated},
        "scoring": {"score": hit.score, "distance": hit.distance, "lexical_score": hit.lexical_score,
                    "certainty": hit.certainty},
        "workspace": file["workspace"],
        "document": {"id": record.id, "name": record.filename, "file_type": extension(record.filename),
                     "status": file["status"], "total_pages": record.total_pages,
                     "uploaded_at": iso(record.created_at), "title": record.title, "tags": file["tags"],
                     "external_metadata": record.external_metadata},
    }


class Retrieve:
    """POST /api/v3/retrieve."""

    def __init__(self, files: FileStore, ingestion: Ingestion, workspaces: WorkspaceStore,
                 retrieval: Retrieval):
        self.files, self.ingestion, self.workspaces, self.retrieval = files, ingestion, workspaces, retrieval

    def handlers(self) -> dict[str, Handler]:
        return {"api_v3_retrieve_create": self.retrieve}

    async def retrieve(self, call: Call) -> Response:
        body = call.body
        scope = [r.id for r in await in_scope(self.files, self.workspaces, body, call.user)]
        # int(): JSON's 5.0 is an integer to the schema (and to DRF's IntegerField), not to a slice.
        hits = await self.retrieval.search(body["query"], file_ids=scope, n=int(body.get("top_k", 20)))
        now = await self.ingestion.now()
        workspaces, tags = await self.workspaces.named(call.user)
        mode = body.get("mode", "text")
        shown = {hit.record.id: v3_file(self.ingestion, hit.record, now, workspaces, tags) for hit in hits}
        return json_response({"results": [_result(hit, mode, shown[hit.record.id]) for hit in hits]})
