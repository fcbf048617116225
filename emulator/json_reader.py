"""JSON body bytes -> the value, as DRF's JSONParser reads it, in pieces when the body is big.

``parse_json`` gives what ``json.loads`` gives (NaN and Infinity refused, an unpaired surrogate
refused, every error message the standard library's), so that whatever the size only the time
differs. In a big body the long string literals (a 25 MB prompt, ten 2 MB embedding inputs) are
decoded a piece of 256 KB at a time, and ``read_json`` lets the event loop run between
two pieces: one ``json.loads`` call holds the loop for the whole body (~45 ms for 24 MB, twice that
on a loaded machine), and every other client waits for it. A worker thread would not help: the
parse holds the GIL, and a busy thread makes the loop wait for the GIL at each of its turns.

How: the quotes are walked to find the long string literals; each is decoded in pieces cut where
no character, escape or surrogate pair straddles the cut; the rest of the body (its skeleton),
with a marker number in place of each long string, is parsed by ``json.loads``, whose
``parse_float`` hands back the decoded string for each marker. A string literal in a value's
place, swapped for a number, leaves a body valid or invalid as it was: when the skeleton parses,
the body does, to the same value. Any doubt (a body with many quotes, the marker already in the
body, a long string as a key, a piece or a skeleton that does not parse) ends in the plain
one-call parse, which also gives the error message.

Still in one call: a body big in structure rather than in strings (100,000 short messages), and
a long string full of escaped quotes (orjson was measured no faster than json on such bodies).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Generator
from typing import Any

PIECES_FROM_BYTES = 1 << 20  # a body larger than this is looked at for long strings
QUOTES_A_STEP = 1000  # quotes walked between two pauses
BIG_STRING_BYTES = 64 * 1024  # a string literal longer than this is decoded in pieces ...
PIECE_BYTES = 256 * 1024  # ... of about this many bytes (~0.3 ms each; a few ms on a loaded machine)
MAX_QUOTES = 20_000  # quotes walked looking for long strings before the plain parse takes over
# A JSON number no client writes (checked: a body holding it is parsed the plain way), then the
# index of the long string it stands for.
_MARKER = "-0.0E-000000000000000000000000"
_MARKER_BYTES = _MARKER.encode()
_BACKSLASH = 0x5C
# json's own string scanner (C): the content from an index to the closing quote, escapes decoded.
_scanstring: Callable[[str, int, bool], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]  # not in typeshed

# \ud800-\udfff: json.loads lets an unpaired one through, and no UTF-8 text can hold it.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_HIGH_SURROGATE = re.compile(rb"\\u[dD][89abAB][0-9a-fA-F]{2}")


async def read_json(raw: bytes) -> Any:
    """``parse_json``, a big body a piece at a time: the event loop serves others between pieces."""
    if len(raw) <= PIECES_FROM_BYTES:  # every request but a few: one parse, no pause
        return _whole(raw)
    steps = _steps(raw)
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value
        await asyncio.sleep(0)


def parse_json(raw: bytes) -> Any:
    """The JSON value of ``raw`` ({} for an empty body); ValueError or RecursionError as
    ``json.loads`` raises them for broken input."""
    return _finish(_steps(raw))


def reject_constant(name: str) -> Any:
    """DRF parses strictly: NaN and Infinity are not JSON."""
    raise ValueError(f"Out of range float values are not JSON compliant: {name}")


_DECODER = json.JSONDecoder(parse_constant=reject_constant)  # what json.loads would make per call
Steps = Generator[None, None, Any]  # pauses (None) between pieces of work, then returns the value


def _finish(steps: Steps) -> Any:
    """What ``steps`` returns, run to their end without a pause."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value


def _steps(raw: bytes) -> Steps:
    if len(raw) <= PIECES_FROM_BYTES:
        return _whole(raw)
    parsed = yield from _in_pieces(raw)
    if parsed is None:
        return _whole(raw)
    data, escapes = parsed
    if escapes:  # rare: only then walk the data for a half of a pair
        _reject_lone_surrogates(data)
    return data


def _whole(raw: bytes) -> Any:
    """The body parsed in one call (``json.loads`` with DRF's strict constants)."""
    if not raw or raw.isspace():
        return {}
    text = raw.decode("utf-8")
    if text.startswith("\ufeff"):  # as json.loads refuses it (the decoder alone would not)
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    data = _DECODER.decode(text)
    if _SURROGATE_ESCAPE.search(raw) is not None:  # rare: only then walk the data for a half of a pair
        _reject_lone_surrogates(data)
    return data


def _in_pieces(raw: bytes) -> Steps:
    """(the value, whether the body holds a surrogate escape), its long strings decoded in pieces;
    None when the body has none, or anything is unusual (the plain parse then decides)."""
    spans = yield from _long_strings(raw)
    if not spans:
        return None
    parts: list[bytes] = []
    strings: list[str] = []
    escapes, done = False, 0
    try:
        for index, (opening, closing) in enumerate(spans):
            parts += [raw[done:opening], b" %s%d " % (_MARKER_BYTES, index)]
            decoded = yield from _string_in_pieces(raw, opening + 1, closing)
            if decoded is None:
                return None
            strings.append(decoded[0])
            escapes = escapes or decoded[1]
            done = closing + 1
        parts.append(raw[done:])
        skeleton = b"".join(parts)
        if skeleton.count(_MARKER_BYTES) != len(spans):
            return None  # the body has the marker itself

        def number(text: str) -> Any:
            return strings[int(text[len(_MARKER):])] if text.startswith(_MARKER) else float(text)

        data = json.loads(skeleton.decode("utf-8"), parse_constant=reject_constant, parse_float=number)
    except (ValueError, RecursionError):  # broken: the plain parse gives the message
        return None
    return data, escapes or _SURROGATE_ESCAPE.search(skeleton) is not None


def _long_strings(raw: bytes) -> Steps:
    """The (opening, closing) quote positions of the string literals longer than BIG_STRING_BYTES;
    [] when there are none, or more than MAX_QUOTES quotes to walk."""
    spans: list[tuple[int, int]] = []
    # Such a string holds an aligned stretch of BIG_STRING_BYTES / 2 without a quote, unless it has
    # escaped quotes (then it is read in one call): no such stretch, no walk (one find a stretch).
    stretch = BIG_STRING_BYTES // 2
    if all(raw.find(b'"', at, at + stretch) != -1 for at in range(0, len(raw) - stretch + 1, stretch)):
        return spans
    opening, start, seen = -1, 0, 0
    while (quote := raw.find(b'"', start)) != -1:
        seen += 1
        if seen > MAX_QUOTES:
            return []
        if seen % QUOTES_A_STEP == 0:
            yield
        start = quote + 1
        if quote and raw[quote - 1] == _BACKSLASH and _escaped(raw, quote):
            continue
        if opening < 0:
            opening = quote
        else:
            if quote - opening > BIG_STRING_BYTES:
                spans.append((opening, quote))
            opening = -1
    return spans


def _escaped(raw: bytes, quote: int) -> bool:
    """Whether the quote at ``quote`` follows an odd run of backslashes."""
    at = quote - 1
    while at >= 0 and raw[at] == _BACKSLASH:
        at -= 1
    return (quote - 1 - at) % 2 == 1


def _string_in_pieces(raw: bytes, start: int, end: int) -> Steps:
    """The string whose content is raw[start:end] (json's own scanner, a piece at a time), and
    whether it holds a surrogate escape; None when a piece is not valid string content."""
    pieces: list[str] = []
    first = True
    escapes = False
    while start < end:
        if not first:
            yield
        first = False
        cut = _cut(raw, start + PIECE_BYTES, end)
        piece = str(memoryview(raw)[start:cut], "utf-8") + '"'
        value, stop = _scanstring(piece, 0, True)
        if stop != len(piece):
            return None
        pieces.append(value)
        if not value.isascii():  # only then can it hold a surrogate
            escapes = escapes or _SURROGATE_ESCAPE.search(raw, start, cut) is not None
        start = cut
    return "".join(pieces), escapes


def _cut(raw: bytes, at: int, end: int) -> int:
    """A position from ``at`` on (or ``end``) where string content can be cut: not inside a UTF-8
    character, an escape (at most 6 bytes) or a surrogate pair (two escapes, 12 bytes). A cut that
    splits a character or an escape makes a piece fail, hence the plain parse; one that split a pair
    would not, and is never made."""
    at = _character_start(raw, at, end)
    for _ in range(1000):
        if at >= end:
            break
        last = raw.rfind(b"\\", at - 12, at)
        if last == -1:
            return at  # no escape reaches across it
        if (raw[at] == _BACKSLASH and raw[at - 1] != _BACKSLASH  # begins an escape ...
                and not _HIGH_SURROGATE.fullmatch(raw, at - 6, at)):  # ... not a pair's second half
            return at
        following = raw.find(b"\\", at + 1, last + 13)
        at = following if following != -1 else _character_start(raw, last + 13, end)
    return end


def _character_start(raw: bytes, at: int, end: int) -> int:
    """``at``, or past the continuation bytes of the UTF-8 character it is in."""
    for _ in range(3):
        if at < end and 0x80 <= raw[at] < 0xC0:
            at += 1
    return min(at, end)


def _reject_lone_surrogates(value: Any) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as exc:
                bad = item[exc.start]
                raise ValueError(f"unpaired surrogate {bad!r} in string {item[:40]!r}") from None
