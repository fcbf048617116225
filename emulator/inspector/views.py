"""The JSON the inspector shows beside the journal: the files and the threads, as people read them.

Both are built from the records on the state backend (so every worker shows the same), with the
status a client would see now (ingestion's and a turn's are functions of the shared clock).
"""

from __future__ import annotations

from typing import Any

from ..conversations import timeline
from ..conversations.records import Conversations
from ..documents.ingestion import Ingestion
from ..documents.statuses import IN_PROGRESS
from ..documents.store import FileRecord, FileStore
from ..identity.ownership import OWNER_COMPANY

EVENTS_SHOWN = 500  # a turn's SSE events listed (a long answer has one per token)
PAGE_CHARS = 200_000  # a page's extracted text is cut beyond this (the page stays responsive)


class Views:
    """``files()``, ``file(id)``, ``threads()``: what the inspector's panels read (``company``: only
    what that company's users own, and what no one owns, as one test space sees it)."""

    def __init__(self, files: FileStore, ingestion: Ingestion, conversations: Conversations):
        self.store, self.ingestion, self.conversations = files, ingestion, conversations

    async def files(self, company: int | None = None) -> dict[str, Any]:
        now = await self.ingestion.now()
        return {"files": [self._file(record, now) for record in await self.store.all()
                          if _of(record.extra, company)]}

    async def file(self, file_id: int, company: int | None = None) -> dict[str, Any] | None:
        record = await self.store.get(file_id)
        if record is None or not _of(record.extra, company):
            return None
        now = await self.ingestion.now()
        pages = await self.store.pages(record)
        shown = [page if len(page) <= PAGE_CHARS else page[:PAGE_CHARS] + f"...[{len(page) - PAGE_CHARS} "
                 f"characters cut]" for page in pages]
        return {**self._file(record, now), "pages": shown}

    def _file(self, record: FileRecord, now: float) -> dict[str, Any]:
        delay = self.ingestion.delay
        status = self.ingestion.status(record, now)
        done = status not in IN_PROGRESS
        progress = 1.0 if done else (min(0.99, (now - record.uploaded) / delay) if delay > 0 else 0.5)
        return {"id": record.id, "filename": record.filename, "title": record.title,
                "workspace_id": record.workspace_id, "purpose": record.purpose, "status": status,
                "progress": round(progress, 3), "size": record.size, "chunk_count": record.chunk_count,
                "total_pages": record.total_pages, "failure": record.failure, "tag_ids": list(record.tag_ids),
                "created_at": record.created_at}

    async def threads(self, company: int | None = None) -> dict[str, Any]:
        now = await self.ingestion.now()  # the shared clock turns are timed from too
        shown = []
        for thread in await self.conversations.threads():
            if not _of(thread, company):
                continue
            turns = await self.conversations.turns_of(thread)
            shown.append({**{k: v for k, v in thread.items() if k not in ("turns", "busy_until")},
                          "turns": [self._turn(turn, now) for turn in turns]})
        return {"threads": shown}

    def _turn(self, record: dict[str, Any], now: float) -> dict[str, Any]:
        rendered = timeline.render(record, now)
        status, reached = timeline.status_at(record, now)
        events = timeline.events(record)
        duration = float(record.get("duration") or 0.0)
        running = status == timeline.RUNNING and duration > 0
        progress = min(1.0, max(0.0, reached / duration)) if running else 1.0
        return {**rendered, "progress": round(progress, 3), "sources": record.get("sources", []),
                "events": [[round(offset * 1000, 1), event.get("type", "")]
                           for offset, event in events[:EVENTS_SHOWN]],
                "events_total": len(events)}


def _of(record: dict[str, Any], company: int | None) -> bool:
    """Whether one company's space shows the record (None: every space's view shows all)."""
    if company is None:
        return True
    owner = record.get(OWNER_COMPANY)
    return owner is None or owner == company
