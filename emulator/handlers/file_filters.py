"""The filters of GET /api/v3/files: ids, extensions, names, dates, statuses and pages.

Each filter the query names keeps the files that pass it; a filter on what ingestion decides
(status, vision status, pages) first settles the files' ingestion. A value the filter cannot read
is a 400 naming the query field.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from ..documents.extraction import extension
from ..documents.ingestion import Ingestion
from ..documents.store import FileRecord
from ..errors import ValidationError
from .files import total_pages

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def ids_of(field: str, raw: Any) -> set[int]:
    """A comma-separated list of ids (``"1,3"``), as the v3 list filters take them."""
    try:
        return {int(part) for part in str(raw).split(",") if part.strip()}
    except ValueError:
        raise ValidationError({field: [f'"{raw}" is not a list of ids: give integers separated by commas, '
                                       f'such as "1,3".']}) from None


def _instant(field: str, raw: Any, end_of_day: bool) -> int:
    """A date-time (or a date: its first second, or its last for a ``_before`` bound) -> Unix seconds."""
    text = str(raw).strip()
    try:
        if _DATE.match(text):
            day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=timezone.utc)
            return int(day.timestamp()) + (86399 if end_of_day else 0)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T"))
    except ValueError:
        raise ValidationError({field: ["Enter a valid date/time."]}) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp())


async def filtered(query: dict[str, Any], records: list[FileRecord],
                   ingestion: Ingestion) -> list[FileRecord]:
    """The files that pass every filter of the query (in the order given)."""
    if "workspace_id" in query:
        wanted = ids_of("workspace_id", query["workspace_id"])
        records = [r for r in records if r.workspace_id in wanted]
    if "tag_id" in query:
        wanted = ids_of("tag_id", query["tag_id"])
        records = [r for r in records if wanted.intersection(r.tag_ids)]
    if "extension" in query:
        wanted_ext = {e.strip().lstrip(".").lower() for e in str(query["extension"]).split(",")
                      if e.strip()}
        records = [r for r in records if extension(r.filename) in wanted_ext]
    for field in ("filename", "title"):
        if field in query:
            needle = str(query[field]).lower()
            records = [r for r in records if needle in getattr(r, field).lower()]
    for field, attribute in (("uploaded_at", "created_at"), ("updated_at", "modified_at")):
        if f"{field}_after" in query:
            bound = _instant(f"{field}_after", query[f"{field}_after"], end_of_day=False)
            records = [r for r in records if getattr(r, attribute) >= bound]
        if f"{field}_before" in query:
            bound = _instant(f"{field}_before", query[f"{field}_before"], end_of_day=True)
            records = [r for r in records if getattr(r, attribute) <= bound]
    if {"status", "status_vision", "total_pages_min", "total_pages_max", "search"} & set(query):
        records = await ingestion.settle(records)
        now = await ingestion.now()
        if "status" in query:
            records = [r for r in records if ingestion.status(r, now) == query["status"]]
        if "status_vision" in query:  # "-": the files that do not go through vision
            wanted_vision = None if query["status_vision"] == "-" else query["status_vision"]
            records = [r for r in records if ingestion.status_vision(r, now) == wanted_vision]
        if "total_pages_min" in query:
            records = [r for r in records
                       if total_pages(ingestion.status(r, now), r) >= query["total_pages_min"]]
        if "total_pages_max" in query:
            records = [r for r in records
                       if total_pages(ingestion.status(r, now), r) <= query["total_pages_max"]]
    return records
