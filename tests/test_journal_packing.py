"""A stream's chunks are stored packed and read back as the JSON pairs they stand for, byte for byte."""

from __future__ import annotations

import json

import pytest

from emulator.tap import PACKED, SIZES, Tap, chunks_json, cut, shown

EVENT = 'data: {"choices":[{"delta":{"content":" wörd é"},"finish_reason":null}]}\n\n'.encode()


def _tap(chunks: list[bytes], cap: int) -> Tap:
    tap = Tap(cap)
    tap.feed({"type": "http.response.start", "headers": [(b"content-type", b"text/event-stream")]})
    for chunk in chunks:
        tap.feed({"type": "http.response.body", "body": chunk, "more_body": True})
    return tap


def _stored(response: bytes) -> bytes:
    """As ``Journal.encode`` stores an entry whose response is ``response``."""
    entry = b'{"path":"/x","response":' + response + b',"notes":["n"]}'
    if response[:1] != PACKED:
        return entry
    head, _, tail = entry.partition(response)
    return PACKED + SIZES.pack(len(head), len(tail)) + head + tail + response


@pytest.mark.parametrize("chunks, cap", [
    ([EVENT] * 258, 65536),
    ([EVENT[:30], EVENT[30:], b"\xff\xfe", b"x" * 10], 65536),  # a character split, bytes not UTF-8
    ([EVENT] * 3000, 65536),  # past the kept chunks: counted as cut
    ([b"y" * 500, b"z"], 100),  # a first chunk past the cap: pairs, cut as text
])
def test_a_packed_stream_reads_back_as_its_pairs(chunks, cap):
    tap = _tap(chunks, cap)
    pairs = chunks_json(12.5, tap.times, [cut(d.decode("utf-8", "replace"), cap) for d in tap.bodies],
                         tap.dropped)
    stored = _stored(tap.json(12.5))
    assert shown(stored) == b'{"path":"/x","response":' + pairs + b',"notes":["n"]}'
    assert json.loads(shown(stored))["response"]["chunks"][0][1] == cut(chunks[0].decode("utf-8", "replace"),
                                                                           cap)


def test_an_entry_that_is_not_a_stream_is_stored_as_its_json():
    tap = Tap(1024, encoded=True)
    tap.feed({"type": "http.response.start", "headers": [(b"content-type", b"application/json")]})
    tap.feed({"type": "http.response.body", "body": b'{"a":1}'})
    assert shown(_stored(tap.json(0.0))) == b'{"path":"/x","response":{"body":{"a":1}},"notes":["n"]}'
