"""Paradigm's tools over the store: tokenize, query (top-n chunks), document search, ask a document.

Retrieval is hybrid (``documents/retrieval.py``): the cosine between the /embeddings
vectors of the query and of the stored chunks, fused with BM25 over their words, so
a question about a word that only one file holds finds that file first. Answers
are built, deterministically, from the best
extracts: the sentence that shares the most words with the question, quoted with
its document and page. Only files that are ``embedded`` are searched: a search
made while others are still ingesting sees what is embedded so far.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from starlette.responses import Response

from ..generation import vectors as embedding
from ..errors import BadRequest, ValidationError
from ..generation.text import request_key
from ..documents import retrieval
from ..routing import Call, json_response
from ..documents.store import FileRecord, Hit
from ..tokenizer import chat_prompt, token_id, tokenize
from .files import does_not_exist, file_or_404, scoped_types, workspace_of

EXTRACTS = 5  # extracts a document search or a question answers from
NO_ANSWER = "I could not find the answer to this question in the documents."
INSTRUCTION = "Answer the question using only the document extracts provided, and cite them."
_STOPWORDS = frozenset(
    "a an the of to in on at for from by with and or but not no is are was were be been it its this that "
    "these those what which who whom whose when where why how do does did can could should would will "
    "shall may might i you he she we they me my your our their there here about into than then so as if "
    "any all some le la les l un une des de du d et ou est sont que qui quoi quel quelle quels quelles "
    "dans sur pour par avec ce cet cette ces il elle on nous vous ils elles".split())
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|$)", re.MULTILINE)


def _words(text: str) -> set[str]:
    """Content words, with a plural's or a verb's final s dropped (smiles ~ smile)."""
    return {w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w
            for w in embedding.features(text) if w not in _STOPWORDS}


def _id_from(*parts: Any) -> str:
    return str(uuid.UUID(bytes=request_key(*parts)[:16], version=4))


def compose_answer(question: str, hits: list[Hit]) -> str:
    """The sentence of the best extracts sharing the most words with the question (the better-ranked
    extract wins a tie), quoted with its document and page; another document that also answers is named."""
    asked = _words(question)
    answering = []  # (words shared, -rank, sentence, hit): each extract's best sentence
    for rank, hit in enumerate(hits):
        sentences = [" ".join(m.group().split()) for m in _SENTENCE.finditer(hit.text)]
        shared = [len(asked & _words(s)) for s in sentences]
        if shared and max(shared):
            answering.append((max(shared), -rank, sentences[shared.index(max(shared))], hit))
    if not answering:
        return NO_ANSWER
    _, _, sentence, hit = max(answering, key=lambda a: (a[0], a[1]))
    answer = f"According to {hit.record.filename} (page {hit.chunk.page}): {sentence}"
    other = next((a[3] for a in answering if a[3].record.id != hit.record.id), None)
    if other is not None:
        answer += f" See also {other.record.filename} (page {other.chunk.page})."
    return answer


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


# -- POST /api/v2/tokenize ---------------------------------------------------------------------

async def tokenize_text(call: Call) -> Response:
    body = call.body
    model = call.emulator.catalog.get(body["model"])
    if model.kind == "embedding":
        raise BadRequest("It is currently not possible to use the tokenize endpoint on embedding models. "
                         "Only Large Language Models are supported.", param="model")
    has_prompt, has_messages = "prompt" in body, "messages" in body
    if has_prompt == has_messages:
        raise ValidationError({"non_field_errors": ["Give either `prompt` or `messages` "
                                                    "(not both, and not neither)."]})
    text = body["prompt"] if has_prompt else chat_prompt(body["messages"])
    check_tokenize_size(text, "prompt" if has_prompt else "messages", call.emulator.settings.max_tokenize_mb)
    pieces = tokenize(text)
    return json_response({
        "id": _id_from("tokenize", call.emulator.settings.seed, body), "model": model.technical_name,
        "request_model": body["model"], "model_used": model.technical_name, "tokenizer_type": "emulator",
        "total_tokens": len(pieces), "tokens": [{piece: token_id(piece)} for piece in pieces],
    })


def check_tokenize_size(text: str, field: str, limit_mb: float) -> None:
    """--max-tokenize-mb: the text is cut into tokens, each written back with its id (~20 bytes a token)."""
    limit = int(limit_mb * 1024 * 1024)
    if len(text) > limit // 4 and (size := len(text.encode("utf-8", "surrogatepass"))) > limit:
        raise ValidationError({field: [f"The text to tokenize is {size / 1024 / 1024:.1f} MB; the limit is "
                                       f"--max-tokenize-mb {limit_mb:g}."]})


# -- POST /api/v2/query -------------------------------------------------------------------------

async def query(call: Call) -> Response:
    body = call.body
    queries = body["query"] if isinstance(body["query"], list) else [body["query"]]
    n = body.get("n", 5)
    collection = body.get("collection") or "base_collection"
    results = []
    for text in queries:
        chunks = []
        for hit in await retrieval.search(call.emulator, text, n=n):
            record = hit.record
            metadata = {"document_id": record.id, "document_name": record.filename, "title": record.title,
                        "workspace_id": record.workspace_id, "pages": [hit.chunk.page],
                        "total_pages": record.total_pages}
            chunks.append({"uuid": hit.chunk.uuid, "text": hit.text, "collection": collection,
                           "score": hit.score, "metadata": metadata})
        results.append({"query": text, "chunks": chunks})
    # Clients read result["chunks"] of a single query (the docs' schema is an object): a list of
    # queries answers a list of such objects.
    return json_response(results if isinstance(body["query"], list) else results[0])


# -- POST /api/v2/chat/document-search ----------------------------------------------------------

async def _in_scope(call: Call) -> list[FileRecord]:
    """The files a document search may read: ``file_ids`` if given, else the workspaces that
    ``workspace_ids`` and the scope flags select."""
    body, emulator = call.body, call.emulator
    everything = await emulator.files.list()
    if body.get("file_ids"):
        present = {r.id for r in everything}
        missing = [i for i in body["file_ids"] if i not in present]
        if missing:
            raise does_not_exist("file_ids", missing)
        wanted = set(body["file_ids"])
        return [r for r in everything if r.id in wanted]
    directory = emulator.workspaces
    workspaces = await directory.workspaces()
    private, company = body.get("private_scope"), body.get("company_scope")
    if body.get("workspace_ids"):
        unknown = [i for i in body["workspace_ids"] if i not in workspaces]
        if unknown:
            raise does_not_exist("workspace_ids", unknown)
        spaces = set(body["workspace_ids"])
        spaces |= {(await directory.personal()).id} if private is True else set()
        spaces |= {(await directory.company_workspace()).id} if company is True else set()
        return [r for r in everything if r.workspace_id in spaces]
    types = scoped_types(private, company, None)
    return [r for r in everything if workspace_of(workspaces, r).workspace_type in types]


async def document_search(call: Call) -> Response:
    body, emulator = call.body, call.emulator
    model = _model(call, body.get("model"))
    extra = body.get("extra_body") or {}
    wrong = [key for key in extra if not key.startswith("guided_")]
    if wrong:
        raise ValidationError({"extra_body": [f'Only guided_* parameters are allowed, got "{key}".'
                                              for key in wrong]})
    scope = [r.id for r in await _in_scope(call)]
    hits = await retrieval.search(emulator, body["query"], file_ids=scope, n=EXTRACTS)
    session = body.get("chat_session_id")
    if session is None:
        digest = request_key("session", emulator.settings.seed, body)
        session = 1 + int.from_bytes(digest[:4], "big") % 1_000_000
    return json_response({
        "chat_session_id": session, "answer": compose_answer(body["query"], hits),
        "user_instructions": body.get("generation_instructions") or "",
        "chat_settings": {"company": emulator.workspaces.company, "instruction": INSTRUCTION},
        "model": model, "documents": _documents(hits),
    })


def _model(call: Call, name: Any) -> str:
    catalog = call.emulator.catalog
    if name is None:
        chat = [m for m in catalog.models if m.kind == "chat"]
        return chat[0].technical_name if chat else "alfred-4.2"
    return catalog.require(name, "chat", "document search").technical_name


# -- POST /api/v2/files/{id}/ask-question ---------------------------------------------------------

async def ask_question(call: Call) -> Response:
    record = await file_or_404(call)
    question = call.body["question"]
    hits = await retrieval.search(call.emulator, question, file_ids=[record.id], n=EXTRACTS)
    return json_response({"answer": compose_answer(question, hits), "document_id": record.id,
                          "document_extracts": [_extract(h) for h in hits]})
