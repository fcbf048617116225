"""POST /api/v3/retrieve: the chunks that best answer a query, with their scoring, document and workspace.

Built on ``retrieval.search``, the hybrid (BM25 + vector) search every other search of the
emulator uses, so ``scoring`` carries the very numbers it ranks by: ``score`` (fused),
``distance`` (cosine distance), ``lexical_score`` (BM25) and ``certainty``. ``mode: vision``
searches the same chunks and reports them as vision chunks (the emulator reads no page images:
the text of a page stands for it). The scopes choose the files searched, as in document search:
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
from .files import does_not_exist, scoped_types, workspace_of
from . import files_v3


async def _scope(call: Call) -> list[int] | None:
    """The ids of the files the request may search (None: all of them)."""
    body, emulator = call.body, call.emulator
    if body.get("file_ids"):
        wanted = list(dict.fromkeys(body["file_ids"]))
        records = await emulator.files.get_many(wanted)
        missing = [i for i, r in zip(wanted, records) if r is None]
        if missing:
            raise does_not_exist("file_ids", missing)
        return wanted
    directory = emulator.workspaces
    private, company = body.get("private_scope"), body.get("company_scope")
    if body.get("workspace_ids"):
        unknown = [i for i in body["workspace_ids"] if i not in directory.workspaces]
        if unknown:
            raise does_not_exist("workspace_ids", unknown)
        spaces = set(body["workspace_ids"])
        spaces |= {directory.personal.id} if private is True else set()
        spaces |= {directory.company_workspace.id} if company is True else set()
        return [r.id for r in await emulator.files.list() if r.workspace_id in spaces]
    if private is None and company is None:
        return None
    types = scoped_types(private, company, None)
    return [r.id for r in await emulator.files.list() if workspace_of(call, r).workspace_type in types]


def chunk_id(chunk_uuid: str) -> int:
    """A chunk's integer id, from its uuid (the same one document-search's extracts carry)."""
    return int.from_bytes(uuidlib.UUID(chunk_uuid).bytes[:6], "big")


async def _result(call: Call, hit: Hit, mode: str) -> dict[str, Any]:
    record, chunk = hit.record, hit.chunk
    document = files_v3.v3_file(call, record, await call.emulator.ingestion.now())
    updated = iso(record.modified_at)
    return {
        "chunk": {"id": chunk_id(chunk.uuid), "uuid": chunk.uuid, "content_id": f"content_id_{chunk.uuid}",
                  "text": chunk.text, "chunk_type": mode,
                  "metadata": {"pages": str(chunk.page), "total_pages": str(record.total_pages)},
                  "created_at": iso(record.created_at), "updated_at": updated},
        "scoring": {"score": hit.score, "distance": hit.distance, "lexical_score": hit.lexical_score,
                    "certainty": hit.certainty},
        "workspace": workspace_of(call, record).summary(),
        "document": {"id": record.id, "name": record.filename, "file_type": extension(record.filename),
                     "status": document["status"], "total_pages": record.total_pages,
                     "uploaded_at": iso(record.created_at), "title": record.title, "tags": document["tags"],
                     "external_metadata": record.external_metadata},
    }


async def retrieve(call: Call) -> Response:
    body = call.body
    file_ids = await _scope(call)
    hits = await retrieval.search(call.emulator, body["query"], file_ids=file_ids, n=body.get("top_k", 20))
    mode = body.get("mode", "text")
    return json_response({"results": [await _result(call, hit, mode) for hit in hits]})
