"""Chunk tools for custom RAG pipelines: POST /api/v2/filter/chunks and /api/v2/query/reformulation.

``filter/chunks`` scores chunks a client already holds (from ``query``, ``document-search`` or
``GET /files/{id}/chunks``) against a query with the same hybrid score the searches rank by, best
first. ``query/reformulation`` rewrites a query into its content words, deterministically.
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.responses import Response

from ..call import Call, Handler, json_response
from ..catalog import Catalog
from ..documents.ingestion import Ingestion
from ..documents.retrieval import Retrieval
from ..documents.store import FileRecord, FileStore
from ..documents.summaries import content_words
from ..errors import ValidationError
from ..identity.users import User

MAX_REFORMULATIONS = 10


def reformulate(query: str) -> str:
    """The query's content words, without question and function words: what a rewriter keeps for
    a search engine ("What is the refund policy of ACME?" -> "refund policy ACME")."""
    words = content_words(query)
    return " ".join(words) if words else " ".join(query.split())


def _uuids(values: list[str]) -> list[str]:
    """Chunk ids as DRF's UUIDField reads them (any case, with or without dashes) -> canonical."""
    out, wrong = [], {}
    for index, value in enumerate(values):
        try:
            out.append(str(uuid.UUID(value)))
        except (ValueError, AttributeError, TypeError):
            wrong[str(index)] = ["Must be a valid UUID."]
    if wrong:
        raise ValidationError({"chunk_ids": wrong})
    return out


class Chunks:
    """POST /api/v2/query/reformulation and /api/v2/filter/chunks."""

    def __init__(self, files: FileStore, ingestion: Ingestion, retrieval: Retrieval, catalog: Catalog):
        self.files, self.ingestion, self.retrieval, self.catalog = files, ingestion, retrieval, catalog

    def handlers(self) -> dict[str, Handler]:
        return {"api_v2_filter_chunks_create": self.filter_chunks,
                "api_v2_query_reformulation_create": self.reformulation}

    def _check_model(self, name: Any, purpose: str) -> None:
        """A model named must be one the catalog serves (an unknown one is vLLM's 404); none named is
        Paradigm's own finetune for the task."""
        if name is not None:
            self.catalog.require(name, "chat", purpose)

    # -- POST /api/v2/query/reformulation -----------------------------------------------------------

    async def reformulation(self, call: Call) -> Response:
        body = call.body
        self._check_model(body.get("model"), "query reformulation")
        queries = body["query"] if isinstance(body["query"], list) else [body["query"]]
        # DRF's CharField trims: a query of spaces is blank (the schema's minLength only sees "   ").
        blank = [i for i, q in enumerate(queries) if not q.strip()]
        if blank:
            message = ["This field may not be blank."]
            several = isinstance(body["query"], list)
            raise ValidationError({"query": {str(i): message for i in blank} if several else message})
        return json_response([{"query": q, "reformulation": reformulate(q)} for q in queries])

    # -- POST /api/v2/filter/chunks -------------------------------------------------------------------

    async def _owners(self, chunk_uuids: list[str], viewer: User | None) -> dict[str, FileRecord]:
        """Which searchable file holds each chunk (a chunk of a file not embedded, gone, or not the
        viewer's to see, is absent)."""
        wanted: set[str] = set(chunk_uuids)
        owners: dict[str, FileRecord] = {}
        for record in await self.ingestion.ready(await self.files.all(viewer)):
            for chunk in await self.files.chunks(record):
                if chunk.uuid in wanted:
                    owners[chunk.uuid] = record
            if len(owners) == len(wanted):
                break
        return owners

    async def filter_chunks(self, call: Call) -> Response:
        body = call.body
        self._check_model(body.get("model"), "chunk filtering")
        wanted = list(dict.fromkeys(_uuids(body["chunk_ids"])))
        owners = await self._owners(wanted, call.user)
        missing = [u for u in wanted if u not in owners]
        if missing:
            raise ValidationError({"chunk_ids": [f'Invalid pk "{u}" - object does not exist.'
                                                 for u in missing]})
        # The files' every chunk ranked by the search's own hybrid score; the ones asked for kept, in
        # that order.
        records = {r.id: r for r in owners.values()}
        everything = sum(r.chunk_count for r in records.values())
        hits = await self.retrieval.search(body["query"], file_ids=list(records), n=everything)
        chosen = [hit for hit in hits if hit.chunk.uuid in owners]
        n = int(body["n"]) if body.get("n") is not None else None  # 2.0 is an integer to the schema
        chunks = []
        for hit in chosen[:n] if n else chosen:
            record = hit.record
            metadata = {"document_id": record.id, "document_name": record.filename, "title": record.title,
                        "workspace_id": record.workspace_id, "pages": [hit.chunk.page],
                        "total_pages": record.total_pages}
            chunks.append({"uuid": hit.chunk.uuid, "text": hit.chunk.text, "metadata": metadata,
                           "filter_score": hit.score})
        return json_response({"query": body["query"], "chunks": chunks})
