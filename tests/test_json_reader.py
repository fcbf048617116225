"""A body read in pieces gives exactly what one json.loads gives: the same value, or the same error."""

from __future__ import annotations

import asyncio
import json
import math
import random

import pytest

from emulator import json_reader
from emulator.json_reader import parse_json, reject_constant


def plain(raw: bytes) -> object:
    """The reference: one json.loads of the whole body, as the emulator always parsed it."""
    data = json.loads(raw.decode("utf-8"), parse_constant=reject_constant)
    json_reader._reject_lone_surrogates(data)
    return data


def outcome(parse, raw: bytes) -> tuple[str, object]:
    try:
        return "value", parse(raw)
    except (ValueError, RecursionError) as exc:
        return "error", f"{type(exc).__name__}: {exc}"


def same(a: object, b: object) -> bool:
    """Equal, and of the same types all the way down (1 is not 1.0, -0.0 is not 0.0, NaN is NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


@pytest.fixture
def tiny_pieces(monkeypatch):
    """Pieces of a few bytes, so that every kind of cut is met in a short body (a string of more than
    11 bytes is long; the keys here are shorter, but for one case)."""
    monkeypatch.setattr(json_reader, "PIECES_FROM_BYTES", 0)
    monkeypatch.setattr(json_reader, "BIG_STRING_BYTES", 12)
    monkeypatch.setattr(json_reader, "PIECE_BYTES", 5)


TRICKY = [
    b'{"a": "0123456789abcdef", "b": 1.5e300, "c": -0.0, "d": 1E400, "e": -0, "f": 1234567890123456789012345,'
    b' "g": 0.1, "h": 2.5e-324, "i": 1.7976931348623157e308}',
    b'{"k": "first long value", "k": "second long value", "j": "x", "k": 3}',  # duplicate keys: last wins
    b'{"esc": "line\\nbreak\\ttab \\"quoted\\" back\\\\slash \\/ \\u00e9\\u20ac end"}',
    b'{"pair": "smile \\ud83d\\ude00 smile \\uD83D\\uDE00 again \\ud83d\\ude00\\ud83d\\ude00"}',
    b'["caf\xc3\xa9 \xe2\x82\xac \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x98\x80 multibyte text"]',
    b'{"lone": "a half \\ud83d alone in a long string"}',
    b'{"lone": "a low half \\ude00 alone in a long string"}',
    b'{"nan": NaN, "s": "a long enough string"}',
    b'{"s": "a long enough string", "inf": -Infinity}',
    b'{"ctrl": "a raw \x01 control character inside"}',
    b'{"bad": "an invalid \\x escape inside it"}',
    b'{"bad": "an invalid \\u12G4 escape inside it"}',
    b'{"utf8": "invalid \xff\xfe utf-8 bytes inside"}',
    b'{"enc": "an encoded surrogate \xed\xa0\x80 inside"}',
    b'{"long key that is a string": "and its long value too"}',
    b'["unterminated long string',
    b'["a long string" 1]',  # a number right after a string
    b'["a long string".5]',
    b'["a long string"true]',
    b'{"a": "long value here"} trailing',
    b'\xef\xbb\xbf{"bom": "a long string value"}',
    b'{"marker": -0.0E-0000000000000000000000000001, "s": "a long string value"}',
    b'[' * 5000 + b'"a long string value"' + b']' * 5000,
    b'{"backslashes": "\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\ then \\\\\\" then \\\\"}',
    b'[\\"outside", "a long string value"]',
    b'  \n {"ws": "a long string value"} \r\n ',
    b'"a top-level long string"',
    b'[1, 2.0, true, false, null, "a long string value", {"n": [ "another long one" ]}]',
]


@pytest.mark.parametrize("raw", TRICKY, ids=range(len(TRICKY)))
def test_tricky_bodies_read_in_pieces_as_in_one_call(tiny_pieces, raw):
    expected, got = outcome(plain, raw), outcome(parse_json, raw)
    assert expected[0] == got[0], (expected, got)
    assert same(expected[1], got[1]) if expected[0] == "value" else expected == got


VALID = ["a", " ", "é", "€", "日", "😀", "\\n", "\\\\", '\\"', "\\u00e9", "\\ud83d\\ude00", "\\uDBFF\\uDFFF",
         "\\/", "\\t", "\\u005c", "\\u0022"]
BROKEN = ["\\ud83d", "\\ude00", "\x01", "\\x", "\\u12"]  # a half of a pair, a control, bad escapes


@pytest.mark.parametrize("seed", range(60))
def test_random_escapes_and_characters_cut_anywhere_read_as_in_one_call(tiny_pieces, monkeypatch, seed):
    rng = random.Random(seed)
    monkeypatch.setattr(json_reader, "PIECE_BYTES", rng.randint(1, 13))
    alphabet = VALID + (BROKEN if seed % 3 == 0 else [])  # a third of the bodies are broken somewhere
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60))) for _ in range(5)]
    raw = ('{"model": "m", "input": [' + ", ".join(f'"{t}"' for t in texts) + "]}").encode()
    expected, got = outcome(plain, raw), outcome(parse_json, raw)
    assert expected[0] == got[0], (raw, expected, got)
    assert same(expected[1], got[1]) if expected[0] == "value" else expected == got


def test_a_big_body_is_read_in_pieces_with_the_default_sizes():
    text = "the quick brown fox \\n jumps \\u00e9 " * 100_000
    raw = json.dumps({"model": "m", "messages": [{"role": "user", "content": text}] * 3}).encode()
    assert json_reader._finish(json_reader._in_pieces(raw)) is not None  # read in pieces, no fallback
    assert same(parse_json(raw), plain(raw))


def test_a_body_with_many_quotes_is_read_in_one_call():
    raw = json.dumps({"input": ["x" * 100] * (json_reader.MAX_QUOTES + 1) + ["y" * 100_000]}).encode()
    assert json_reader._finish(json_reader._in_pieces(raw)) is None
    assert same(parse_json(raw), plain(raw))


@pytest.mark.parametrize("raw", [b"", b"  \n\t", b"\x0b\x0c"])
def test_an_empty_body_is_an_empty_object(raw):
    assert parse_json(raw) == {}


@pytest.mark.anyio
async def test_the_event_loop_serves_others_while_a_big_body_is_read():
    """Counted in turns of the event loop, not in seconds: a coroutine that only yields runs between
    the pieces of a 24 MB prompt (a turn a piece); a body read in one call lets it run once."""
    text = "the quick brown fox jumps over a lazy dog, 12345 times! " * 430_000
    raw = json.dumps({"model": "alfred-4.2", "messages": [{"role": "user", "content": text}]}).encode()
    reading = asyncio.ensure_future(json_reader.read_json(raw))
    turns = 0
    while not reading.done():
        turns += 1
        await asyncio.sleep(0)
    assert reading.result()["messages"][0]["content"] == text
    assert turns >= len(raw) // json_reader.PIECE_BYTES - 1
