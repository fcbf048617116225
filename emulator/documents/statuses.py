"""The statuses a file shows while it is ingested: Paradigm's vocabulary, their timeline, vision.

``status`` takes the values Paradigm's file objects document (the api.lighton.ai SDK and its files
tutorial, same codebase): ``pending``, ``parsing``, ``embedding``, ``embedded``, and the failures
``parsing_failed`` (no text could be read, or an extraction budget was exceeded), ``embedding_failed``
(the text was read, its vectors could not be made) and ``fail`` (the ingestion failed outside both
steps). ``updating`` is in the vocabulary too; the emulator never shows it, since a change to a file
(PATCH) touches its metadata only and is done at once.

Over ``--ingest-ms`` a file is ``pending`` for the first third, ``parsing`` for the second and
``embedding`` for the last (a file whose parsing fails stays ``parsing`` until its failure shows;
one whose outcome is not known yet shows ``parsing``: the work is still going on).

``status_vision`` is the vision pipeline's status: ``null`` for a file that does not go through it
(the upload example's value), else ``pending`` while the file is pending, ``processing`` while it
is parsed and embedded, then ``embedded``, or ``fail`` when the ingestion failed. A file goes through
it when its ingestion pipeline is a visual parser (``v2.2``, ``v2.2.1``: the upload's ``parser``,
or the upload session's ``ingestion_pipeline``), or when an upload-session file is sent with
``IS_VISUAL_INGESTION_ON: true`` (``false`` turns it off for a visual parser).

A fixture matching an upload may script how its ingestion ends (``response.ingestion``:
``status`` one of ``embedded``/``parsing_failed``/``embedding_failed``/``fail``, ``detail``, and
``status_vision`` ``embedded``/``fail``, which sends the file through vision); it is kept with the
file (``FileRecord.extra``), so every worker tells the same story.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

QUEUED = "queued"  # stored while the work is not done (never shown)
PENDING, PARSING, EMBEDDING, EMBEDDED, UPDATING = "pending", "parsing", "embedding", "embedded", "updating"
PARSING_FAILED, EMBEDDING_FAILED, FAIL = "parsing_failed", "embedding_failed", "fail"
FAILURES = (PARSING_FAILED, EMBEDDING_FAILED, FAIL)
IN_PROGRESS = (PENDING, PARSING, EMBEDDING, UPDATING)
STATUSES = (PENDING, PARSING, EMBEDDING, EMBEDDED, UPDATING, *FAILURES)  # the documented vocabulary
OUTCOMES = (EMBEDDED, *FAILURES)  # how an ingestion may end

VISION_PENDING, VISION_PROCESSING, VISION_EMBEDDED, VISION_FAIL = "pending", "processing", "embedded", "fail"
VISION_STATUSES = (VISION_PENDING, VISION_PROCESSING, VISION_EMBEDDED, VISION_FAIL, "-")
VISUAL_PARSERS = ("v2.2", "v2.2.1")  # "Visual parser", "Visual parser with new chunker"

VISION, SCRIPT = "vision", "ingestion"  # their keys in FileRecord.extra

# What a fixture's ``response.ingestion`` may hold (fixtures/schema.py).
SCRIPT_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False,
    "properties": {"status": {"enum": list(OUTCOMES)}, "detail": {"type": "string"},
                   "status_vision": {"enum": [VISION_EMBEDDED, VISION_FAIL]}},
}


def upload_extra(parser: str | None, visual: bool | None, script: Mapping[str, Any] | None) -> dict[str, Any]:
    """What an upload keeps in ``FileRecord.extra`` for its statuses: whether it goes through vision
    (``visual`` is IS_VISUAL_INGESTION_ON, None when not sent), and a fixture's scripted outcome."""
    extra: dict[str, Any] = {}
    scripted = dict(script) if isinstance(script, Mapping) else None
    if (parser in VISUAL_PARSERS if visual is None else visual) or (scripted or {}).get("status_vision"):
        extra[VISION] = True
    if scripted:
        extra[SCRIPT] = scripted
    return extra


def scripted_failure(extra: Mapping[str, Any]) -> tuple[str, str] | None:
    """The failure a fixture scripted for this upload: (status, detail), or None."""
    script = extra.get(SCRIPT) or {}
    status = script.get("status")
    if status not in FAILURES:
        return None
    return status, script.get("detail") or f"The ingestion ended {status} (scripted by a fixture)."


def text_status(state: str, elapsed: float, delay: float) -> str:
    """The ``status`` of a file ``elapsed`` seconds after its upload, ``state`` being what its
    ingestion stored (``QUEUED`` until it is done) and ``delay`` the --ingest-ms, in seconds."""
    if elapsed < delay / 3:
        return PENDING
    if state == QUEUED or elapsed < delay * 2 / 3:
        return PARSING
    if elapsed < delay:
        return EMBEDDING if state in (EMBEDDED, EMBEDDING_FAILED) else PARSING
    return state


def vision_status(extra: Mapping[str, Any], status: str) -> str | None:
    """The ``status_vision`` of a file whose ``status`` is this."""
    if not extra.get(VISION):
        return None
    if status == PENDING:
        return VISION_PENDING
    if status in IN_PROGRESS:
        return VISION_PROCESSING
    if status in FAILURES:
        return VISION_FAIL
    return (extra.get(SCRIPT) or {}).get("status_vision") or VISION_EMBEDDED
