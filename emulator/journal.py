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
import struct
import time
from array import array
from collections.abc import AsyncGenerator, MutableMapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from .errors import StateUnavailable
from .jsonbytes import dumps, dumps_finite
from .redaction import REDACTED, may_hold_secret, redact_body, secret_name
from .state import Backend

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
CHUNKS_KEPT = 2000  # a stream's chunks kept in its entry (their bytes are also kept to the body cap)
# A stored entry with a packed stream response (``Tap``) starts with this byte, which JSON never does:
# then the sizes of the entry's JSON before and after the response, that JSON, and the response.
PACKED = b"\x1e"
_SIZES = struct.Struct("<II")
_PACK = struct.Struct("<IId")  # a packed response: chunks, chunks dropped, the request's start


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
        shown_response = b"null" if response is None else response.json(call.started)
        packed = shown_response[:1] == PACKED
        entry = _ENTRY % (
            _name(request.method), _name(scope["path"]), _name(call.operation.operation_id),
            _dumps(_query(call.query)) if call.query else b"{}", self._headers_json(scope["headers"]),
            status, b"null" if call.fixture is None else _text(call.fixture),
            repr(round(seconds * 1000, 3)).encode(), _name(outcome),
            b"null" if call.source is None else _name(call.source),
            b"null" if user is None else b"%d" % user.id,
            b"null" if user is None else b"%d" % user.company.id,
            self._body(call), b"" if packed else shown_response)
        notes = call.notes
        tail = b',"notes":' + _dumps(notes) + b"}" if notes else b"}"
        if not packed:
            return entry[:-1] + tail if notes else entry
        # A packed response (raw bytes, not JSON) goes last: the entry's JSON around it first, by size.
        head = entry[:-1]  # up to the response's value
        return PACKED + _SIZES.pack(len(head), len(tail)) + head + tail + shown_response

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
            text = REDACTED if secret_name(key) else _cut(value.decode("latin-1"), HEADER_VALUE_CAP)
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
        shrunk = _dumps(_shrink(body, max(64, self.body_cap // 16)))
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


class Tap:
    """The response as it went out, for the journal: a body (kept to the body cap), or for a stream
    (several body messages) each chunk with its time in ms since the request began. Feeding it
    costs a clock read and two appends per message; the JSON is made once, when the entry is written.

    A stream's chunks are written packed: their times and sizes as two binary arrays and their
    bytes as they went out, a few C-level copies, where a list of ``[ms, text]`` pairs costs a
    Python step and a JSON string per chunk. ``shown`` turns a stored entry back into the JSON it
    stands for when it is read: readers see the same bytes either way."""

    __slots__ = ("cap", "encoded", "times", "bodies", "size", "dropped", "json_body", "stream")

    def __init__(self, cap: int, encoded: bool = False):
        self.cap = cap
        self.encoded = encoded
        self.times: list[float] = []
        self.bodies: list[bytes] = []
        self.size = 0
        self.dropped = 0  # chunks past the caps, counted
        self.json_body = self.stream = False

    def feed(self, message: MutableMapping[str, Any]) -> None:
        body = message.get("body")  # only a body message has one; a stream sends hundreds
        if body:
            bodies = self.bodies
            size = self.size + len(body)
            if size > self.cap and bodies or len(bodies) >= CHUNKS_KEPT:
                self.dropped += 1
                return
            self.times.append(time.perf_counter())
            bodies.append(body)
            self.size = size
        elif body is None and message["type"] == "http.response.start":
            for name, value in message.get("headers", ()):
                if name.lower() == b"content-type":
                    lowered = value.lower()
                    self.json_body, self.stream = b"json" in lowered, b"event-stream" in lowered

    def json(self, started: float) -> bytes:
        bodies = self.bodies
        if not self.stream and len(bodies) <= 1 and not self.dropped:
            body = bodies[0] if bodies else b""
            if self.json_body and len(body) <= self.cap and (self.encoded or _is_json(body)):
                return b'{"body":' + body + b"}"  # the JSON as it was sent: not encoded again
            return b'{"body":' + _text(_cut(body.decode("utf-8", "replace"), self.cap)) + b"}"
        # Only the first chunk can pass the cap (``feed`` keeps the others within it): a first chunk
        # past it is cut as text, so written as pairs.
        if len(bodies[0]) <= self.cap:
            return PACKED + _PACK.pack(len(bodies), self.dropped, started) + b"".join(
                (array("d", self.times).tobytes(), array("I", map(len, bodies)).tobytes(), *bodies))
        return _chunks_json(started, self.times, [_cut(data.decode("utf-8", "replace"), self.cap)
                                                  for data in bodies], self.dropped)


def _chunks_json(started: float, times: Sequence[float], texts: list[str], dropped: int) -> bytes:
    shown: dict[str, Any] = {"chunks": [[round((at - started) * 1000, 3), text]
                                        for at, text in zip(times, texts, strict=True)]}
    if dropped:
        shown["cut"] = f"[{dropped} more chunk(s) cut]"
    return dumps_finite(shown)  # finite times and strings: no NaN to look for


def shown(raw: bytes) -> bytes:
    """An entry's stored bytes as readers see them: JSON, a packed stream response unpacked."""
    if not raw.startswith(PACKED):
        return raw
    head_size, tail_size = _SIZES.unpack_from(raw, 1)
    at = 1 + _SIZES.size
    head, tail = raw[at:at + head_size], raw[at + head_size:at + head_size + tail_size]
    return head + _unpacked(memoryview(raw)[at + head_size + tail_size:]) + tail


def _unpacked(packed: memoryview) -> bytes:
    """A packed stream response (``Tap``) as the ``{"chunks": [[ms, text], ...]}`` it stands for."""
    count, dropped, started = _PACK.unpack_from(packed, 1)
    at = 1 + _PACK.size
    times, sizes = array("d"), array("I")
    times.frombytes(packed[at:at + times.itemsize * count])
    at += times.itemsize * count
    sizes.frombytes(packed[at:at + sizes.itemsize * count])
    at += sizes.itemsize * count
    texts = []
    for size in sizes:  # each chunk decoded on its own, as it went out
        texts.append(bytes(packed[at:at + size]).decode("utf-8", "replace"))
        at += size
    return _chunks_json(started, times, texts, dropped)


def _is_json(raw: bytes) -> bool:
    """Whether ``raw`` can be put into an entry as it is (a fixture may send anything it likes)."""
    try:
        json.loads(raw)
    except ValueError:
        return False
    return True


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
            value = _cut(value, HEADER_VALUE_CAP)
        kept[name] = value
    return kept


def _cut(text: str, cap: int) -> str:
    return text if len(text) <= cap else text[:cap] + f"...[{len(text) - cap} characters cut]"


def _shrink(value: Any, cap: int) -> Any:
    if isinstance(value, str):
        return _cut(value, cap)
    if isinstance(value, dict):
        return {k: _shrink(v, cap) for k, v in value.items()}
    if isinstance(value, list):
        return [_shrink(v, cap) for v in value]
    return value


def _dumps(value: Any) -> bytes:
    return dumps(value, str)


def _text(value: str) -> bytes:
    return dumps(value)


@functools.lru_cache(maxsize=1024)
def _name(value: str) -> bytes:
    """A short string that repeats (a method, a path, an operationId, an outcome), JSON-encoded once."""
    return _text(value)
