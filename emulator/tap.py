"""The response as it went out, for its journal entry: a body, or a stream's chunks with their times.

``respond`` feeds the tap every message it sends; the journal asks it for the entry's ``response``
once the body has ended. A stream's chunks are written packed (binary times and sizes, the bytes
as they went out), and ``shown`` turns a stored entry back into the JSON it stands for when read.
"""

from __future__ import annotations

import json
import struct
import time
from array import array
from collections.abc import MutableMapping, Sequence
from typing import Any

from .jsonbytes import dumps, dumps_finite

CHUNKS_KEPT = 2000  # a stream's chunks kept in its entry (their bytes are also kept to the body cap)
# A stored entry with a packed stream response (``Tap``) starts with this byte, which JSON never does:
# then the sizes of the entry's JSON before and after the response, that JSON, and the response.
PACKED = b"\x1e"
SIZES = struct.Struct("<II")
_PACK = struct.Struct("<IId")  # a packed response: chunks, chunks dropped, the request's start


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
        """A message of a response sent through ``respond``'s wrapper of ``send``."""
        body = message.get("body")
        if body:
            self.chunk(body)
        elif body is None and message["type"] == "http.response.start":
            for name, value in message.get("headers", ()):
                if name.lower() == b"content-type":
                    lowered = value.lower()
                    self.json_body, self.stream = b"json" in lowered, b"event-stream" in lowered

    def chunk(self, body: bytes) -> None:
        """A body message as it goes out (an event stream tells each of its chunks here itself)."""
        bodies = self.bodies
        size = self.size + len(body)
        if size > self.cap and bodies or len(bodies) >= CHUNKS_KEPT:
            self.dropped += 1
            return
        self.times.append(time.perf_counter())
        bodies.append(body)
        self.size = size

    def json(self, started: float) -> bytes:
        """The entry's ``response``: JSON, or a packed stream (``PACKED`` first)."""
        return b"".join(self.parts(started))

    def parts(self, started: float) -> tuple[bytes, ...]:
        """``json``'s bytes in pieces, so that the entry around them is joined with one copy."""
        bodies = self.bodies
        if not self.stream and len(bodies) <= 1 and not self.dropped:
            body = bodies[0] if bodies else b""
            if self.json_body and len(body) <= self.cap and (self.encoded or _is_json(body)):
                return b'{"body":', body, b"}"  # the JSON as it was sent: not encoded again
            return b'{"body":', _text(cut(body.decode("utf-8", "replace"), self.cap)), b"}"
        # Only the first chunk can pass the cap (``chunk`` keeps the others within it): a first chunk
        # past it is cut as text, so written as pairs.
        if len(bodies[0]) <= self.cap:
            return (PACKED, _PACK.pack(len(bodies), self.dropped, started), array("d", self.times).tobytes(),
                    array("I", map(len, bodies)).tobytes(), *bodies)
        return (chunks_json(started, self.times, [cut(data.decode("utf-8", "replace"), self.cap)
                                                   for data in bodies], self.dropped),)


def chunks_json(started: float, times: Sequence[float], texts: list[str], dropped: int) -> bytes:
    shown: dict[str, Any] = {"chunks": [[round((at - started) * 1000, 3), text]
                                        for at, text in zip(times, texts, strict=True)]}
    if dropped:
        shown["cut"] = f"[{dropped} more chunk(s) cut]"
    return dumps_finite(shown)  # finite times and strings: no NaN to look for


def shown(raw: bytes) -> bytes:
    """An entry's stored bytes as readers see them: JSON, a packed stream response unpacked."""
    if not raw.startswith(PACKED):
        return raw
    head_size, tail_size = SIZES.unpack_from(raw, 1)
    at = 1 + SIZES.size
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
    return chunks_json(started, times, texts, dropped)


def _is_json(raw: bytes) -> bool:
    """Whether ``raw`` can be put into an entry as it is (a fixture may send anything it likes)."""
    try:
        json.loads(raw)
    except ValueError:
        return False
    return True


def cut(text: str, cap: int) -> str:
    return text if len(text) <= cap else text[:cap] + f"...[{len(text) - cap} characters cut]"


def _text(value: str) -> bytes:
    return dumps(value)
