"""Forwarded exchanges -> fixture files in a folder (``--record DIR``), readable and reviewable.

Each distinct request (method, path, query and body in canonical form, ``--record-ignore`` fields
left out) is one fixture in a file of its own, ``NNNN-<method>-<path>.yaml`` numbered in the order
first seen; the answers a request got, in order, are that fixture's ``responses`` (an upload, then
the polls of its status: the k-th poll replays the k-th answer). Paths and bodies are kept as sent,
so the ids the upstream assigned match again on replay. No secret is written: the request's headers
are not recorded at all, ``Set-Cookie`` and the ``--record-redact`` headers and JSON fields become a
placeholder, and the upstream key and the client's bearer key are replaced wherever they appear.
"""

from __future__ import annotations

import base64
import json
import os
import re
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from ..yaml_reader import load_yaml
from .exchange import Json, canonical_query, drop_fields, event_fields

if TYPE_CHECKING:
    from ..call import Call

PLACEHOLDER = "[redacted]"
REDACTED_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key"}
)
_NUMBERED = re.compile(r"^(\d{4,})-")
_SLUG = re.compile(r"[^a-z0-9]+")
READ_BACK_BYTES = 1 << 30  # a file of the folder is read back whatever size this recorder wrote it at
MAX_RECORDED_UPLOAD = 1024 * 1024  # an upload's bytes are kept (for the drift report) up to this size


@dataclass
class Exchange:
    status: int
    headers: dict[str, str]
    body: bytes | None = None
    events: list[tuple[bytes, float]] | None = None  # (event bytes, delay before it in ms)
    cut: bool = False


def split_events(chunks: list[tuple[bytes, float]]) -> list[tuple[bytes, float]]:
    """Chunks as they arrived (bytes, ms since the request) -> SSE events (each ending with its blank
    line, a cut tail as it is), each with the delay before it: the bytes joined are the bytes sent."""
    events: list[tuple[bytes, float]] = []
    pending, last_at = b"", 0.0
    for chunk, at in chunks:
        pending += chunk
        while True:
            end = _event_end(pending)
            if end < 0:
                break
            events.append((pending[:end], round(max(at - last_at, 0.0), 3)))
            pending, last_at = pending[end:], at
    if pending:
        events.append((pending, round(max((chunks[-1][1] if chunks else 0.0) - last_at, 0.0), 3)))
    return events


def _event_end(data: bytes) -> int:
    ends = [i + len(sep) for sep in (b"\n\n", b"\r\n\r\n", b"\r\r") if (i := data.find(sep)) >= 0]
    return min(ends) if ends else -1


def folder_problem(folder: Path) -> str | None:
    """Why recordings cannot be written into ``folder`` (made if missing), or None."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as exc:
        return f"--record {folder}: cannot write recordings there: {exc.strerror or exc}"
    return None


class Recorder:
    def __init__(self, folder: Path, ignore: Iterable[str] = (), redact: Iterable[str] = ()):
        self.folder = folder
        self.ignore = tuple(ignore)
        self.redact = frozenset(name.lower() for name in redact)
        self._lock = threading.Lock()
        self._open: dict[str, Path] = {}  # request key -> the file of its fixture
        self._number, self._seq = self._existing()

    def _existing(self) -> tuple[int, int]:
        """The highest file number and exchange number already in the folder: a new session goes on."""
        number = seq = 0
        for path in self.folder.glob("*.yaml"):
            found = _NUMBERED.match(path.name)
            if found is None:
                continue
            number = max(number, int(found[1]))
            try:
                document = load_yaml(path.read_text(encoding="utf-8"), str(path), READ_BACK_BYTES, limit="",
                                     libyaml=True)[0] or {}
                for fixture in document.get("fixtures") or []:
                    for response in fixture.get("responses") or [fixture.get("response") or {}]:
                        seq = max(seq, int((response.get("raw") or {}).get("seq") or 0))
            except (OSError, AttributeError, TypeError, ValueError):  # YamlError is a ValueError
                continue
        return number, seq

    def add(self, call: Call, exchange: Exchange, secrets: Iterable[str] = ()) -> Path:
        """Write the exchange into its request's file (a new file for a request not seen before)."""
        request = self._request(call)
        key = json.dumps(request, sort_keys=True, default=str)
        with self._lock:
            self._seq += 1
            response = {"raw": self._raw(exchange, self._seq)}
            opened = self._open.get(key)
            if opened is not None:
                # The file ends with this fixture's list of responses: the next one is appended to it
                # (a long poll is not the whole file rewritten per answer).
                item = _dump([response])
                text = "".join("  " + line if line.strip() else line for line in item.splitlines(True))
                with opened.open("a", encoding="utf-8") as out:
                    out.write(_without(text, secrets))
                return opened
            self._number += 1
            method, path = request["method"], request["path"]
            slug = _SLUG.sub("-", path.lower()).strip("-")[:80] or "root"
            file = self._open[key] = self.folder / f"{self._number:04d}-{method.lower()}-{slug}.yaml"
            fixture = {"name": f"{self._number:04d} {method} {path}",
                       "match": {"operation": call.operation.operation_id, "request": request},
                       "responses": [response]}
            _write_atomically(file, _without(_dump({"fixtures": [fixture]}), secrets))
            return file

    def _request(self, call: Call) -> dict[str, Any]:
        request = call.request
        ignored = frozenset(self.ignore)
        redacted = [name for name in self.redact if _has_field(call.body, name)]
        body = drop_fields(_redact(call.body, self.redact), ignored)
        recorded: dict[str, Any] = {"method": request.method, "path": request.url.path}
        query = {
            k: (PLACEHOLDER if k.lower() in self.redact else v)
            for k, v in canonical_query(request.url.query, ignored).items()
        }
        if query:
            recorded["query"] = query
        if body not in (None, {}, ""):
            recorded["body"] = body
        if call.uploads:
            recorded["files"] = {name: _upload(upload) for name, upload in call.uploads.items()}
        leave_out = sorted({*self.ignore, *redacted, *(k for k in query if k.lower() in self.redact)})
        if leave_out:
            recorded["ignore"] = leave_out
        return recorded

    def _raw(self, exchange: Exchange, seq: int) -> dict[str, Any]:
        headers = {
            k.lower(): (PLACEHOLDER if k.lower() in REDACTED_HEADERS or k.lower() in self.redact else v)
            for k, v in exchange.headers.items()
        }
        raw: dict[str, Any] = {"status": exchange.status, "headers": headers}
        if exchange.events is not None:
            raw["events"] = [
                {
                    "delay_ms": delay,
                    **{k: _redact_text(v, self.redact) for k, v in event_fields(data).items()},
                }
                for data, delay in exchange.events
            ]
        else:
            body = exchange.body or b""
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                raw["body_base64"] = base64.b64encode(body).decode("ascii")
            else:
                raw["body"] = _redact_text(text, self.redact)
        if exchange.cut:
            raw["cut"] = True
        raw["seq"] = seq
        return raw


def _upload(upload: Any) -> dict[str, Any]:
    described: dict[str, Any] = {"filename": upload.filename or ""}
    if upload.content_type:
        described["content_type"] = upload.content_type
    upload.file.seek(0, os.SEEK_END)
    size = upload.file.tell()
    described["size"] = size
    if size <= MAX_RECORDED_UPLOAD:
        upload.file.seek(0)
        described["base64"] = base64.b64encode(upload.file.read()).decode("ascii")
    return described


def _has_field(value: Json, name: str) -> bool:
    if isinstance(value, dict):
        return any(k.lower() == name or _has_field(v, name) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_field(v, name) for v in value)
    return False


def _redact(value: Json, names: frozenset[str]) -> Json:
    if not names:
        return value
    if isinstance(value, dict):
        return {k: PLACEHOLDER if k.lower() in names else _redact(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v, names) for v in value]
    return value


def _redact_text(text: str, names: frozenset[str]) -> str:
    """A JSON answer (or an SSE event's JSON data) with the redacted fields replaced; other text as is."""
    if not names:
        return text
    for name in names:
        if name in text.lower():
            text = re.sub(
                r'("(?i:' + re.escape(name) + r')"\s*:\s*)("(?:[^"\\]|\\.)*"|-?[\d.eE+-]+|true|false|null)',
                lambda m: m[1] + json.dumps(PLACEHOLDER),
                text,
            )
    return text


class _Dumper(yaml.SafeDumper):
    """Strings with line breaks (SSE events) written double-quoted, ``\n`` and all, on one line."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = '"' if "\n" in value or "\r" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def _dump(value: Any) -> str:
    return yaml.dump(value, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1_000_000)


def _without(text: str, secrets: Iterable[str]) -> str:
    """The text with every secret (the upstream key, the client's key) replaced by the placeholder."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, PLACEHOLDER)
    return text


def _write_atomically(path: Path, text: str) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".recording-", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
