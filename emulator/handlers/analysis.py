"""Document and image analysis (v2 tools): POST /chat/document-analysis and its polls, /chat/image-analysis.

An analysis is a record of the state backend (``documents/analyses.py``): the query, the
documents, and when it was asked on the backend's shared clock. Its status is computed from
that clock on every poll, so any worker answers it and nothing runs on a timer. Once every
document is embedded the analysis walks its phases over --analysis-ms::

    INITIALIZING -> PROMPT_GENERATION_INITIALIZING -> PROMPT_GENERATED
      [-> VISUAL_SUMMARIZATION -> VISUAL_SUMMARIZATION_GENERATED]      (when a document is an image)
      -> SUMMARIZATION_GENERATING_INTERMEDIATE_SUMMARIES -> INTERMEDIATE_SUMMARIES_GENERATED
      -> GENERATING_FINAL_SUMMARY -> COMPLETED

with ``progress`` going from 0 to 100 and ``reduction_phase`` counting the map-reduce passes begun.
While a document is still ingesting the analysis waits in INITIALIZING (progress 0); when one
failed to ingest, or was deleted, it ends in ERROR. The first poll that sees it end stores the
outcome, so the result never changes afterwards.

The result is drawn from the documents' text: for each, the sentences that share the most words
with the query. An image analysis describes the uploaded images (format and size, read at upload).
"""

from __future__ import annotations

import asyncio
import uuid as uuidlib
from datetime import datetime, timezone
from typing import Any

from starlette.responses import Response

from ..call import Call, Handler, json_response
from ..catalog import Catalog
from ..config import Settings
from ..documents.analyses import Analysis, AnalysisStore, Progress
from ..documents.ingestion import EMBEDDED, FAILURES, Ingestion
from ..documents.store import FileRecord, FileStore
from ..documents.summaries import best_sentences
from ..errors import NotFound, ValidationError
from ..generation.text import request_key
from ..identity.ownership import owner_fields, visible
from ..identity.users import User
from ..state import Clock
from .common import does_not_exist

INITIALIZING, COMPLETED, ERROR = "INITIALIZING", "COMPLETED", "ERROR"
_TEXT_PHASES = ("INITIALIZING", "PROMPT_GENERATION_INITIALIZING", "PROMPT_GENERATED",
                "SUMMARIZATION_GENERATING_INTERMEDIATE_SUMMARIES", "INTERMEDIATE_SUMMARIES_GENERATED",
                "GENERATING_FINAL_SUMMARY")
_VISUAL = ("VISUAL_SUMMARIZATION", "VISUAL_SUMMARIZATION_GENERATED")
# The map-reduce pass each phase belongs to: prompts (0), intermediate summaries (1), the final one (2).
_REDUCTION = {"SUMMARIZATION_GENERATING_INTERMEDIATE_SUMMARIES": 1, "INTERMEDIATE_SUMMARIES_GENERATED": 1,
              "GENERATING_FINAL_SUMMARY": 2, COMPLETED: 2}
SENTENCES_PER_DOCUMENT = 2


def image_of(record: FileRecord) -> dict[str, Any] | None:
    image = record.extra.get("image")
    return image if isinstance(image, dict) else None


def describe_image(record: FileRecord, image: dict[str, Any]) -> str:
    return (f"a {image.get('format', 'image')} image of {image.get('width')}x{image.get('height')} pixels "
            f"({image.get('mode', 'unknown')} colour mode)")


def _iso(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _key(call: Call, name: str) -> str:
    try:
        return str(uuidlib.UUID(str(call.path_params[name])))
    except ValueError:
        raise NotFound() from None


class Analyses:
    """POST /api/v2/chat/document-analysis and its two polls, POST /api/v2/chat/image-analysis."""

    def __init__(self, analyses: AnalysisStore, files: FileStore, ingestion: Ingestion, catalog: Catalog,
                 clock: Clock, settings: Settings):
        self.analyses, self.files, self.ingestion, self.catalog = analyses, files, ingestion, catalog
        self.clock, self.settings = clock, settings

    def handlers(self) -> dict[str, Handler]:
        return {"api_v2_chat_document_analysis_create": self.create,
                "api_v2_chat_document_analysis_retrieve": self.retrieve,
                "api_v2_tools_document_analysis_status_retrieve": self.status,
                "api_v2_chat_image_analysis_create": self.image_analysis}

    async def _documents(self, field: str, ids: list[int], viewer: User | None) -> list[FileRecord]:
        """The files ``ids`` names (each once, in order); one that names nothing the viewer may see
        is DRF's 400."""
        ids = list(dict.fromkeys(int(i) for i in ids))  # 3.0 is an integer to the schema, as to DRF
        records = await self.files.get_many(ids, viewer=viewer)
        missing = [i for i, r in zip(ids, records, strict=True) if r is None]
        if missing:
            raise does_not_exist(field, missing)
        return [r for r in records if r is not None]

    def _model(self, name: Any, purpose: str) -> str | None:
        return None if name is None else self.catalog.require(name, "chat", purpose).technical_name

    # -- POST /api/v2/chat/document-analysis -----------------------------------------------------------

    async def create(self, call: Call) -> Response:
        body = call.body
        model = self._model(body.get("model"), "document analysis")
        records = await self._documents("document_ids", body["document_ids"], call.user)
        number = await self.analyses.next_number()
        session = await self.analyses.next_chat_session()
        key = str(uuidlib.UUID(bytes=request_key("document-analysis", self.settings.seed, number)[:16],
                               version=4))
        analysis = Analysis(uuid=key, number=number, chat_session_id=session, query=body["query"],
                            document_ids=tuple(r.id for r in records), asked=await self.clock.now(),
                            created_at=self.settings.epoch + number, model=model,
                            private=bool(body.get("private")), owner=owner_fields(call.user))
        await self.analyses.put(analysis)
        return json_response({"uuid": key, "chat_response_id": key, "chat_session_id": session})

    async def _progress(self, analysis: Analysis) -> Progress:
        """Where the analysis is now (and, the first time it is seen finished, its outcome stored)."""
        if analysis.outcome is not None:
            return analysis.outcome
        ingestion = self.ingestion
        found = await self.files.get_many(analysis.document_ids)
        gone = [i for i, r in zip(analysis.document_ids, found, strict=True) if r is None]
        if gone:
            return await self._finish(analysis, Progress(ERROR, 0.0, 0, result=(
                f"Document {gone[0]} was deleted before the analysis could read it.")))
        records = await ingestion.settle([r for r in found if r is not None])
        now = await self.clock.now()
        statuses = [ingestion.status(r, now) for r in records]
        failed = [r for r, s in zip(records, statuses, strict=True) if s in FAILURES]
        if failed:
            first = failed[0]
            return await self._finish(analysis, Progress(ERROR, 0.0, 0, result=(
                f"Document {first.id} ({first.filename}) could not be ingested: {first.failure}")))
        if any(s != EMBEDDED for s in statuses):
            return Progress(INITIALIZING, 0.0, 0)  # waits for its documents before it begins
        visual = any(image_of(r) for r in records)
        phases = _TEXT_PHASES[:3] + (_VISUAL if visual else ()) + _TEXT_PHASES[3:]
        # It began when it was asked, or when its last document was embedded (its ingestion time up).
        began = max([analysis.asked, *(r.uploaded + ingestion.delay for r in records)])
        duration = max(self.settings.analysis_ms, 0.0) / 1000
        share = (now - began) / duration if duration else 1.0
        if share >= 1.0:
            done = Progress(COMPLETED, 100.0, 2, result=await self._result(analysis.query, records),
                            completed=round(began - analysis.asked + duration, 3))
            return await self._finish(analysis, done)
        phase = phases[min(int(share * len(phases)), len(phases) - 1)]
        return Progress(phase, round(max(share, 0.0) * 100, 1), _REDUCTION.get(phase, 0))

    async def _finish(self, analysis: Analysis, outcome: Progress) -> Progress:
        """Keep the first outcome seen: a later poll (on any worker) reads it instead of recomputing it."""
        return await self.analyses.finish(analysis.uuid, outcome) or outcome

    async def _result(self, query: str, records: list[FileRecord]) -> str:
        lines = [f'Analysis of {len(records)} document{"s" if len(records) > 1 else ""} for "{query}":']
        for number, record in enumerate(records, 1):
            image = image_of(record)
            if image is not None:
                found = describe_image(record, image)
            else:  # a long document's sentences are weighed off the event loop
                text = await self.files.text(record)
                found = " ".join(await asyncio.to_thread(best_sentences, query, text, SENTENCES_PER_DOCUMENT))
                found = found or "(no text)"
            lines.append(f"{number}. {record.title} (document {record.id}): {found}")
        return "\n".join(lines)

    async def _analysis_or_404(self, call: Call, name: str) -> Analysis:
        analysis = await self.analyses.get(_key(call, name))
        if analysis is None or not visible(analysis.owner, call.user):
            raise NotFound()  # unknown, or another user's (clients poll on through a 404)
        return analysis

    # -- GET /api/v2/chat/document-analysis/{uuid} -------------------------------------------------------

    async def retrieve(self, call: Call) -> Response:
        analysis = await self._analysis_or_404(call, "uuid")
        now = await self._progress(analysis)
        return json_response({"uuid": analysis.uuid, "status": now.status, "result": now.result,
                              "progress": now.progress, "reduction_phase": now.reduction_phase,
                              "documents": list(analysis.document_ids)})

    # -- GET /api/v2/tools/document-analysis/{analysis_uuid}/status/ -----------------------------------

    async def status(self, call: Call) -> Response:
        analysis = await self._analysis_or_404(call, "analysis_uuid")
        now = await self._progress(analysis)
        created = analysis.created_at
        finished = now.status in (COMPLETED, ERROR)
        return json_response({
            "task_id": analysis.uuid, "status": now.status, "created_at": _iso(created),
            "progress": now.progress,
            "completed_at": _iso(created + (now.completed or 0.0)) if finished else None,
            "result": {"answer": now.result, "documents": list(analysis.document_ids)}
            if now.status == COMPLETED else None,
            "error": now.result if now.status == ERROR else None})

    # -- POST /api/v2/chat/image-analysis ----------------------------------------------------------------

    async def image_analysis(self, call: Call) -> Response:
        body = call.body
        self._model(body.get("model"), "image analysis")
        records = await self._documents("document_ids", body["document_ids"], call.user)
        not_images = [r for r in records if image_of(r) is None]
        if not_images:
            raise ValidationError({"document_ids": [
                f"Document {r.id} ({r.filename}) is not an image: image analysis reads PNG and JPEG uploads."
                for r in not_images]})
        parts = [f"{r.title} is {describe_image(r, image_of(r) or {})}" for r in records]
        answer = f'About "{body["query"]}": ' + "; ".join(parts) + "."
        return json_response({"answer": answer})
