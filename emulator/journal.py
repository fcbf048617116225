"""What was asked and answered: one entry per request, on the state backend (so every worker's
requests are in one journal), bounded in bytes.

An entry is stored as its JSON bytes, written once when the request is done: the body kept to
``--journal-body-kb`` (the rest cut, with a marker saying how much), the headers likewise, every
credential redacted (by its name: ``redaction``), and the whole journal to ``--journal-mb`` (the
oldest entries go first).
Reading a page hands those bytes on as they are, so a full journal is streamed, not rebuilt (but
for a stream's chunks, stored packed and unpacked as they are read: ``Tap``, ``shown``).

The pipeline records a request once its response body has ended (or its client went away),
with the real duration and how the body ended: ``complete``, ``truncated`` (a stream fault cut
it) or ``dropped`` (the client went away, or a drop fault closed the connection).
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from .errors import StateUnavailable
from .jsonbytes import dumps, map_strings
from .redaction import REDACTED, may_hold_secret, redact_body, secret_name
from .state import Backend
from .tap import PACKED, SIZES, Tap, cut, shown

if TYPE_CHECKING:
    from .call import Call
    from .config import Settings

log = logging.getLogger("emulator.journal")
LOG = "journal"
HEADER_VALUE_CAP = 4096  # one header's value (a cookie jar, a JWT) is cut beyond this
PAGE = 500  # entries read from the backend at a time when streaming a page
HEADER_CACHE = 512  # distinct header lists whose JSON is kept
_ENTRY = (b'{"method":%s,"path":%s,"operation_id":%s,"query":%s,"headers":%s,"status":%d,"fixture":%s,'
          b'"duration_ms":%s,"outcome":%s,"source":%s,"user":%s,"company":%s,"body":%s,"response":%s}')


@dataclass(frozen=True)
class Entry:
    seq: int
    method: str
    path: str
    operation_id: str
    query: dict[str, Any]
    headers: dict[str, str]
    body: Any
    status: int
    fixture: str | None
    duration_ms: float
    outcome: str = "complete"  # complete | truncated | dropped
    response: dict[str, Any] | None = None  # {"body": ...} or {"chunks": [[ms, text], ...]} (see Tap)
    source: str | None = None  # "upstream" (proxied), "recording" (replayed), else None
    notes: tuple[str, ...] = ()  # what the emulator says of the request (a spent regex budget); often none
    user: int | None = None  # the caller's user id and company id (never the key)
    company: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {"seq": self.seq, "method": self.method, "path": self.path, "operation_id": self.operation_id,
                "query": self.query, "headers": self.headers, "body": self.body, "status": self.status,
                "fixture": self.fixture, "duration_ms": self.duration_ms, "outcome": self.outcome,
                "response": self.response, "source": self.source, "user": self.user,
                "company": self.company}
        return {**data, "notes": list(self.notes)} if self.notes else data

    @classmethod
    def parse(cls, seq: int, raw: bytes) -> Entry:
        return cls.from_dict({**json.loads(shown(raw)), "seq": seq})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Entry:
        """An entry as GET /_emulator/journal shows it (keys this version does not know are ignored)."""
        return cls(seq=data["seq"], method=data["method"], path=data["path"],
                   operation_id=data["operation_id"], query=data["query"], headers=data["headers"],
                   body=data["body"], status=data["status"], fixture=data["fixture"],
                   duration_ms=data["duration_ms"], outcome=data.get("outcome", "complete"),
                   response=data.get("response"), source=data.get("source"),
                   notes=tuple(data.get("notes") or ()), user=data.get("user"), company=data.get("company"))


class Journal:
    def __init__(self, state: Backend, settings: Settings):
        self.state = state
        self.body_cap = max(256, int(settings.journal_body_kb * 1024))
        self.budget = max(self.body_cap * 2, int(settings.journal_mb * 1024 * 1024))
        # The JSON of header lists seen lately: a client sends the same headers request after request.
        self._header_cache: dict[tuple[tuple[bytes, bytes], ...], bytes] = {}

    def tap(self, encoded: bool = False) -> Tap:
        """What ``respond`` feeds the response's messages to, for the entry's ``response``
        (``encoded``: its body is JSON this emulator encoded, kept as it is without a check)."""
        return Tap(self.body_cap, encoded)

    async def record(self, call: Call, *, status: int, outcome: str = "complete",
                     seconds: float = 0.0, response: Tap | None = None) -> None:
        """Called once per API request, when its response body has ended or its client went away."""
        try:
            await self.state.append(LOG, self.encode(call, status, outcome, seconds, response),
                                    budget=self.budget)
        except StateUnavailable as exc:  # the response is already on its way: a lost entry is logged
            log.warning("request not journaled: %s", exc)

    def encode(self, call: Call, status: int, outcome: str, seconds: float,
               response: Tap | None = None) -> bytes:
        # Written on every request, so built from pieces: the parts that repeat (the headers of one
        # client, the operation) are encoded once and kept, the rest formatted into one bytes object.
        request = call.request
        scope = request.scope
        user = call.user
        parts = (b"null",) if response is None else response.parts(call.started)
        packed = parts[0] == PACKED
        entry = _ENTRY % (
            _name(request.method), _name(scope["path"]), _name(call.operation.operation_id),
            _dumps(_query(call.query)) if call.query else b"{}", self._headers_json(scope["headers"]),
            status, b"null" if call.fixture is None else _text(call.fixture),
            repr(round(seconds * 1000, 3)).encode(), _name(outcome),
            b"null" if call.source is None else _name(call.source),
            b"null" if user is None else b"%d" % user.id,
            b"null" if user is None else b"%d" % user.company.id,
            self._body(call), b"" if packed else b"".join(parts))
        notes = call.notes
        tail = b',"notes":' + _dumps(notes) + b"}" if notes else b"}"
        if not packed:
            return entry[:-1] + tail if notes else entry
        # A packed response (raw bytes, not JSON) goes last: the entry's JSON around it first, by size.
        head = entry[:-1]  # up to the response's value
        return b"".join((PACKED, SIZES.pack(len(head), len(tail)), head, tail, *parts))

    def _headers_json(self, raw: list[tuple[bytes, bytes]]) -> bytes:
        key = tuple(raw)
        found = self._header_cache.get(key)
        if found is None:
            if len(self._header_cache) >= HEADER_CACHE:
                self._header_cache.clear()
            found = self._header_cache[key] = _dumps(self._headers(raw))
        return found

    def _headers(self, raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
        headers: dict[str, str] = {}
        room = self.body_cap
        for name, value in raw:
            key = name.decode("latin-1").lower()
            text = REDACTED if secret_name(key) else cut(value.decode("latin-1"), HEADER_VALUE_CAP)
            room -= len(key) + len(text)
            if room < 0:
                headers["x-emulator-cut"] = f"[{len(raw) - len(headers)} more header(s) cut]"
                break
            headers[key] = text
        return headers

    def _body(self, call: Call) -> bytes:
        raw = call.raw_body
        if not raw and not call.uploads and call.body == {}:
            return b"{}"  # a GET, a DELETE
        body, redacted = call.body, False
        # A form body has no raw bytes, and a big one is re-encoded anyway: both are walked; a JSON body
        # kept as it came is first scanned (a credential word in it at all?), in one C-level pass.
        if not raw or len(raw) > self.body_cap or may_hold_secret(raw):
            body, redacted = redact_body(body)
        if (raw and not redacted and not call.uploads and len(raw) <= self.body_cap
                and call.content_type.endswith("json")):
            return raw.strip() or b"{}"  # the JSON as it came: no need to encode it again
        if call.uploads:
            body = {**(body if isinstance(body, dict) else {}),
                    **{name: f"<file {upload.filename}>" for name, upload in call.uploads.items()}}
        if len(raw) <= 8 * self.body_cap:  # a raw body this big is over the cap once encoded too
            text = _dumps(body)
            if len(text) <= self.body_cap:
                return text
        # Too big: long strings are cut first (a 5 MB prompt keeps its shape and its start) ...
        cap = max(64, self.body_cap // 16)
        shrunk = _dumps(map_strings(body, lambda string: cut(string, cap)))
        if len(shrunk) <= self.body_cap:
            return shrunk
        text = _dumps(body)
        # ... and a body that is big in every part keeps its first bytes, as text.
        return _dumps({"_emulator_cut": f"[{len(text) - self.body_cap} of {len(text)} bytes cut]",
                       "head": text[:self.body_cap].decode("utf-8", "ignore")})

    # -- reading -----------------------------------------------------------------------------------------

    async def entries(self, after: int = 0, limit: int | None = None) -> list[Entry]:
        """Oldest first, with seq > ``after``."""
        # The log holds only what ``encode`` wrote (bytes): the casts here and in ``pages`` say so.
        return [Entry.parse(seq, cast(bytes, raw)) for seq, raw in await self.state.read(LOG, after, limit)]

    async def pages(self, *, after: int | None = None, before: int | None = None,
                    newest_first: bool = True) -> AsyncGenerator[list[tuple[int, bytes]], None]:
        """The raw entries in batches (each one backend read, so the loop serves others between them)."""
        if newest_first:
            cursor = before
            while True:
                found = await self.state.read_back(LOG, cursor, PAGE)
                batch = [(seq, cast(bytes, raw)) for seq, raw in found if after is None or seq > after]
                if not batch:
                    return
                yield batch
                cursor = batch[-1][0]
        else:
            cursor = after or 0
            while True:
                found = await self.state.read(LOG, cursor, PAGE)
                batch = [(seq, cast(bytes, raw)) for seq, raw in found if before is None or seq < before]
                if not batch:
                    return
                yield batch
                cursor = batch[-1][0]

    async def length(self) -> int:
        return await self.state.length(LOG)

    async def clear(self) -> int:
        return await self.state.drop(LOG)


def with_seq(seq: int, raw: bytes) -> bytes:
    """An entry's stored bytes with its sequence number first, as the control API shows it."""
    return b'{"seq":%d,' % seq + shown(raw)[1:]


def _query(query: dict[str, Any]) -> dict[str, Any]:
    if not query:
        return {}
    kept = {}
    for name, value in query.items():
        if secret_name(name):
            value = REDACTED
        elif isinstance(value, str):
            value = cut(value, HEADER_VALUE_CAP)
        kept[name] = value
    return kept


def _dumps(value: Any) -> bytes:
    return dumps(value, str)


def _text(value: str) -> bytes:
    return dumps(value)


@functools.lru_cache(maxsize=1024)
def _name(value: str) -> bytes:
    """A short string that repeats (a method, a path, an operationId, an outcome), JSON-encoded once."""
    return _text(value)
