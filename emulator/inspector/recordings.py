"""The inspector's view of the recordings: the exchanges of the ``--record`` folder (read from disk,
as the recorder writes them) and the recorded fixtures loaded from ``--fixtures-dir`` (with their
uses), each as its file, request and the answers it holds (status, body or stream, seq).

A recording's file is read in a worker thread, a summary kept (never its bodies), and at most
``MAX_FILES`` files of at most ``MAX_FILE_BYTES`` each are read per view: a huge folder is listed
in part, and says so.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..scripts.registry import Scripts
from ..upstream.exchange import is_recording
from ..yaml_reader import YamlError, load_yaml

MAX_FILES = 2000
MAX_FILE_BYTES = 32 * 1024 * 1024


def upstream_origin(url: str | None) -> str | None:
    """The upstream as ``scheme://host[:port]``: never a user, password, path or query it may hold."""
    if not url:
        return None
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


class RecordingsView:
    """``recordings()``: the recording folder's exchanges and the loaded recorded fixtures."""

    def __init__(self, scripts: Scripts, folder: Path | None, upstream: str | None):
        self.scripts, self.folder, self.upstream = scripts, folder, upstream_origin(upstream)

    async def recordings(self) -> dict[str, Any]:
        rows: list[dict[str, Any]] = []
        loaded: set[str] = set()
        for fixture in await self.scripts.all():
            if not is_recording(fixture):
                continue
            file = str(fixture.get("source", "")).rsplit(":", 1)[0]
            loaded.add(_resolved(file))
            rows.append(_row(file, fixture, "fixtures", fixture.get("uses")))
        problems: list[str] = []
        more = False
        if self.folder is not None:
            found, problems, more = await asyncio.to_thread(_read_folder, self.folder, loaded)
            rows += found
        rows.sort(key=lambda r: (r["first_seq"] is None, r["first_seq"] or 0, r["file"]))
        return {"folder": str(self.folder) if self.folder is not None else None,
                "recording": self.folder is not None and self.upstream is not None,
                "upstream": self.upstream, "recordings": rows, "problems": problems, "more": more}


def _read_folder(folder: Path, loaded: set[str]) -> tuple[list[dict[str, Any]], list[str], bool]:
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    try:
        paths = sorted(p for p in folder.glob("*.yaml") if not p.name.startswith("."))
    except OSError as exc:
        return [], [f"{folder}: {exc.strerror or exc}"], False
    more = len(paths) > MAX_FILES
    for path in paths[:MAX_FILES]:
        if _resolved(str(path)) in loaded:
            continue
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                problems.append(f"{path.name}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MB, not read")
                continue
            document, _ = load_yaml(path.read_text(encoding="utf-8"), path.name, MAX_FILE_BYTES, limit="",
                                    libyaml=True)
        except YamlError as exc:
            problems.append(str(exc))  # "name:line: what"
            continue
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{path.name}: {getattr(exc, 'strerror', None) or exc}")
            continue
        fixtures = document.get("fixtures") if isinstance(document, dict) else None
        for fixture in fixtures if isinstance(fixtures, list) else []:
            if isinstance(fixture, dict) and is_recording(fixture):
                rows.append(_row(str(path), fixture, "recording folder", None))
    return rows, problems, more


def _resolved(file: str) -> str:
    try:
        return str(Path(file).resolve())
    except (OSError, RuntimeError):
        return file


def _row(file: str, fixture: dict[str, Any], origin: str, uses: Any) -> dict[str, Any]:
    request = fixture["match"]["request"]
    request = request if isinstance(request, dict) else {}
    responses = fixture.get("responses")
    if not isinstance(responses, list):
        responses = [fixture.get("response")] if fixture.get("response") is not None else []
    answers = [_answer(r["raw"]) for r in responses if isinstance(r, dict) and isinstance(r.get("raw"), dict)]
    seqs = [a["seq"] for a in answers if isinstance(a["seq"], int)]
    return {"file": file, "name": fixture.get("name"), "operation": fixture["match"].get("operation"),
            "method": request.get("method"), "path": request.get("path"), "query": request.get("query"),
            "responses": answers, "first_seq": min(seqs) if seqs else None, "origin": origin,
            "uses": uses if isinstance(uses, int) else None}


def _answer(raw: dict[str, Any]) -> dict[str, Any]:
    events = raw.get("events")
    seq = raw.get("seq")
    shown: dict[str, Any] = {"status": raw.get("status"), "seq": seq if isinstance(seq, int) else None,
                             "stream": isinstance(events, list), "cut": bool(raw.get("cut"))}
    if isinstance(events, list):
        shown["events"] = len(events)
    else:
        body = raw.get("body") if "body" in raw else raw.get("body_base64", "")
        shown["bytes"] = len(str(body or ""))
    return shown
