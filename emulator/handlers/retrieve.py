"""POST /api/v3/retrieve: the chunks that best answer a query, with their scoring, document and workspace.

Built on ``retrieval.search``, the hybrid (BM25 + vector) search every other search of the
emulator uses, so ``scoring`` carries the very numbers it ranks by: ``score`` (fused),
``distance`` (cosine distance), ``lexical_score`` (BM25) and ``certainty``. ``mode: vision``
searches the same chunks and reports them as vision chunks (the emulator reads no page images). The scopes choose the files searched, as in document search:
``file_ids``, else ``workspace_ids`` and the private/company flags (every file when none is given).
"""

from __future__ import annotations

import uuid as uuidlib
from typing import Any

from starlette.responses import Response

from ..documents import retrieval
from ..documents.extraction import extension
from ..documents.store import Hit
from ..documents.workspaces import iso
from ..routing import Call, json_response
from . import files_v3
from .documents import _in_scope as in_scope  # retrieve's scopes are document search's


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


async def retrieve(call: Call) -> Response:
    body, emulator = call.body, call.emulator
    scope = [r.id for r in await in_scope(call)]
    # int(): JSON's 5.0 is an integer to the schema (and to DRF's IntegerField), not to a slice.
    hits = await retrieval.search(emulator, body["query"], file_ids=scope, n=int(body.get("top_k", 20)))
    now = await emulator.ingestion.now()
    workspaces, tags = await emulator.workspaces.workspaces(), await emulator.workspaces.tags()
    mode = body.get("mode", "text")
    shown = {hit.record.id: files_v3.v3_file(call, hit.record, now, workspaces, tags) for hit in hits}
    return json_response({"results": [_result(hit, mode, shown[hit.record.id]) for hit in hits]})
