"""Paradigm's tools over the store: tokenize, query (top-n chunks), document search, ask a document.

Retrieval is hybrid (``documents/retrieval.py``): the cosine between the /embeddings
vectors of the query and of the stored chunks, fused with BM25 over their words, so
a question about a word that only one file holds finds that file first. Answers
are built, deterministically, from the best extracts (``summaries.compose_answer``):
the sentence that shares the most words with the question, quoted with
its document and page. Only files that are ``embedded`` are searched: a search
made while others are still ingesting sees what is embedded so far.
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.responses import Response

from ..call import Call, Handler, json_response
from ..catalog import Catalog
from ..config import Settings
from ..documents.retrieval import Retrieval
from ..documents.store import FileRecord, FileStore, Hit
from ..documents.summaries import compose_answer
from ..documents.workspace_store import WorkspaceStore
from ..documents.workspaces import scoped_types
from ..errors import BadRequest, ValidationError
from ..generation import structured
from ..generation.text import request_key
from ..identity.users import User
from ..tokenizer import chat_prompt, token_id, tokenize
from . import v2_choices
from .common import does_not_exist
from .files import file_or_404, workspace_of

EXTRACTS = 5  # extracts a document search or a question answers from
INSTRUCTION = "Answer the question using only the document extracts provided, and cite them."


def _id_from(*parts: Any) -> str:
    return str(uuid.UUID(bytes=request_key(*parts)[:16], version=4))


def _extract(hit: Hit) -> dict[str, Any]:
    return {"id": int.from_bytes(uuid.UUID(hit.chunk.uuid).bytes[:6], "big"), "text": hit.text,
            "metadata": {"ID": hit.chunk.uuid, "pages": [hit.chunk.page],
                         "total_pages": hit.record.total_pages}}


def _documents(hits: list[Hit]) -> list[dict[str, Any]]:
    """Extracts grouped by document, documents in the order of their best extract."""
    grouped: dict[int, dict[str, Any]] = {}
    for hit in hits:
        entry = grouped.setdefault(hit.record.id, {"id": hit.record.id, "name": hit.record.filename,
                                                   "document_extracts": []})
        entry["document_extracts"].append(_extract(hit))
    return list(grouped.values())


def check_tokenize_size(text: str, field: str, limit_mb: float) -> None:
    """--max-tokenize-mb: the text is cut into tokens, each written back with its id (~20 bytes a token)."""
    limit = int(limit_mb * 1024 * 1024)
    if len(text) > limit // 4 and (size := len(text.encode("utf-8", "surrogatepass"))) > limit:
        raise ValidationError({field: [f"The text to tokenize is {size / 1024 / 1024:.1f} MB; the limit is "
                                       f"--max-tokenize-mb {limit_mb:g}."]})


async def in_scope(files: FileStore, workspaces: WorkspaceStore, body: dict[str, Any],
                   viewer: User | None = None) -> list[FileRecord]:
    """The files a document search may read: ``file_ids`` if given, else the workspaces that
    ``workspace_ids`` and the scope flags select; of those, the viewer's (another user's file id
    does not exist for them)."""
    everything = await files.all(viewer)
    if body.get("file_ids"):
        present = {r.id for r in everything}
        missing = [i for i in body["file_ids"] if i not in present]
        if missing:
            raise does_not_exist("file_ids", missing)
        wanted = set(body["file_ids"])
        return [r for r in everything if r.id in wanted]
    known = await workspaces.workspaces(viewer)
    private, company = body.get("private_scope"), body.get("company_scope")
    if body.get("workspace_ids"):
        unknown = [i for i in body["workspace_ids"] if i not in known]
        if unknown:
            raise does_not_exist("workspace_ids", unknown)
        spaces = set(body["workspace_ids"])
        spaces |= {(await workspaces.personal(viewer)).id} if private is True else set()
        spaces |= {(await workspaces.company_workspace(viewer)).id} if company is True else set()
        return [r for r in everything if r.workspace_id in spaces]
    types = scoped_types(private, company, None)
    every = await workspaces.every_workspace(viewer)  # a colleague's company file may sit in their workspace
    return [r for r in everything if workspace_of(every, r).workspace_type in types]


class Tools:
    """POST /api/v2/tokenize, /api/v2/query, /api/v2/chat/document-search, /api/v2/files/{id}/ask-question."""

    def __init__(self, files: FileStore, workspaces: WorkspaceStore, retrieval: Retrieval, catalog: Catalog,
                 settings: Settings):
        self.files, self.workspaces, self.retrieval = files, workspaces, retrieval
        self.catalog, self.settings = catalog, settings

    def handlers(self) -> dict[str, Handler]:
        return {"api_v2_files_ask_question_create": self.ask_question,
                "api_v2_tokenize_create": self.tokenize_text, "api_v2_query_create": self.query,
                "api_v2_chat_document_search_create": self.document_search}

    # -- POST /api/v2/tokenize ---------------------------------------------------------------------

    async def tokenize_text(self, call: Call) -> Response:
        body = call.body
        model = self.catalog.get(body["model"])
        if model.kind == "embedding":
            raise BadRequest("It is currently not possible to use the tokenize endpoint on embedding models. "
                             "Only Large Language Models are supported.", param="model")
        has_prompt, has_messages = "prompt" in body, "messages" in body
        if has_prompt == has_messages:
            raise ValidationError({"non_field_errors": ["Give either `prompt` or `messages` "
                                                        "(not both, and not neither)."]})
        text = body["prompt"] if has_prompt else chat_prompt(body["messages"])
        check_tokenize_size(text, "prompt" if has_prompt else "messages", self.settings.max_tokenize_mb)
        pieces = tokenize(text)
        return json_response(v2_choices.tokenize_answer(
            self.settings.tokenize_shape, answer_id=_id_from("tokenize", self.settings.seed, body),
            model=model.technical_name, request_model=body["model"], text=text,
            tokens=[(piece, token_id(piece)) for piece in pieces]))

    # -- POST /api/v2/query -------------------------------------------------------------------------

    async def query(self, call: Call) -> Response:
        body = call.body
        queries = body["query"] if isinstance(body["query"], list) else [body["query"]]
        n = body.get("n", 5)
        collection = body.get("collection") or "base_collection"
        results = []
        for text in queries:
            chunks = []
            for hit in await self.retrieval.search(text, n=n, viewer=call.user):
                record = hit.record
                metadata = {"document_id": record.id, "document_name": record.filename, "title": record.title,
                            "workspace_id": record.workspace_id, "pages": [hit.chunk.page],
                            "total_pages": record.total_pages}
                chunks.append({"uuid": hit.chunk.uuid, "text": hit.text, "collection": collection,
                               "score": hit.score, "metadata": metadata})
            results.append({"query": text, "chunks": chunks})
        # A single query's shape is a documented choice (--query-shape); a list answers a list.
        return json_response(v2_choices.query_answer(results, isinstance(body["query"], list),
                                                     self.settings.query_shape))

    # -- POST /api/v2/chat/document-search ----------------------------------------------------------

    async def document_search(self, call: Call) -> Response:
        body = call.body
        model = self._model(body.get("model"))
        extra = body.get("extra_body") or {}
        wrong = [key for key in extra if not key.startswith("guided_")]
        if wrong:
            raise ValidationError({"extra_body": [f'Only guided_* parameters are allowed, got "{key}".'
                                                  for key in wrong]})
        scope = [r.id for r in await in_scope(self.files, self.workspaces, body, call.user)]
        hits = await self.retrieval.search(body["query"], file_ids=scope, n=EXTRACTS)
        session = body.get("chat_session_id")
        if session is None:
            digest = request_key("session", self.settings.seed, body)
            session = 1 + int.from_bytes(digest[:4], "big") % 1_000_000
        # extra_body.guided_* shape the answer as they shape a chat answer (vLLM's guided decoding).
        guided = structured.guided_text(request_key("document-search", self.settings.seed, body), extra,
                                        structured.Budget.of(self.settings))
        return json_response({
            "chat_session_id": session,
            "answer": compose_answer(body["query"], hits)[0] if guided is None else guided,
            "user_instructions": body.get("generation_instructions") or "",
            "chat_settings": {"company": self.workspaces.company, "instruction": INSTRUCTION},
            "model": model, "documents": _documents(hits),
        })

    def _model(self, name: Any) -> str:
        if name is None:
            chat = [m for m in self.catalog.models if m.kind == "chat"]
            return chat[0].technical_name if chat else "alfred-4.2"
        return self.catalog.require(name, "chat", "document search").technical_name

    # -- POST /api/v2/files/{id}/ask-question ---------------------------------------------------------

    async def ask_question(self, call: Call) -> Response:
        record = await file_or_404(self.files, call)
        question = call.body["question"]
        hits = await self.retrieval.search(question, file_ids=[record.id], n=EXTRACTS)
        return json_response({"answer": compose_answer(question, hits)[0], "document_id": record.id,
                              "document_extracts": [_extract(h) for h in hits]})
