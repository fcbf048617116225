"""Compact JSON bytes, fast: orjson's encoder, giving exactly the bytes of the standard library's
``json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()``.

Every response body and journal entry is encoded here, so the encoder is on every request's
path; orjson is several times faster than ``json`` (a 1,024-float embedding: ~25 us against
~190 us). Where the two differ, the standard library's bytes win:

- floats: both write the shortest repr that reads back, but orjson writes small ones its own way
  (``1.5e-7`` and ``0.00001`` where Python writes ``1.5e-07`` and ``1e-05``). Output holding
  either spelling at all (a C-level ``bytes.find``; most bodies hold neither) has those numbers,
  outside its strings, rewritten with ``repr``: the same float, Python's spelling;
- NaN and the infinities: orjson writes ``null``, ``json`` writes ``NaN``/``Infinity``; output
  with a ``null`` is checked for a non-finite float (a walk of the value) and encoded by ``json``;
- what orjson refuses (an integer past 64 bits, a key that is not a string, a type it does not
  know) goes to ``json`` as before, so the error or the result is the standard library's.

Types orjson writes and ``json`` refuses (a dataclass, a datetime: passed through to the
fallback; a UUID, a plain Enum) only ever raised before; no value of a request or of the
generator is one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from math import isfinite
from typing import Any

import numpy as np
import orjson

_OPTIONS = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME
_SORTED = _OPTIONS | orjson.OPT_SORT_KEYS
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"')
_NUMBER_BYTES = frozenset(b"0123456789.-+e")
_DIGITS = frozenset(b"0123456789")
_EXACT_BELOW = 64 * 1024
_BEFORE_NUMBER, _AFTER_NUMBER = frozenset(b":,["), frozenset(b",]}")


def dumps(value: Any, default: Callable[[Any], Any] | None = None) -> bytes:
    """``json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=default).encode()``,
    faster (``default`` is the standard library's, for what orjson refuses)."""
    return _dumps(value, default, sort_keys=False)


def dumps_sorted(value: Any, default: Callable[[Any], Any] | None = None) -> bytes:
    """``dumps`` with every object's keys sorted (``sort_keys=True``): a canonical form to hash.
    orjson sorts by UTF-8 bytes, which is the code point order ``json`` sorts by."""
    return _dumps(value, default, sort_keys=True)


def _dumps(value: Any, default: Callable[[Any], Any] | None, sort_keys: bool) -> bytes:
    try:
        out = orjson.dumps(value, option=_SORTED if sort_keys else _OPTIONS)
    except (TypeError, orjson.JSONEncodeError):
        return _stdlib(value, default, sort_keys)
    # A one-byte test first (memchr, ~20 GB/s): a body of digits (token ids, say) holds no "u",
    # and the four-byte search would slow down on every digit it half-matches.
    if b"u" in out and b"null" in out and _has_non_finite(value):
        return _stdlib(value, default, sort_keys)
    return _respell(out) if _may_differ(out) else _exact(out)


def _may_differ(out: bytes) -> bool:
    """Whether ``out`` may hold a float orjson spells otherwise than ``repr``: a fixed-point one
    below 1e-4 (``0.0000...``), a one-digit negative exponent (``e-7``). Each search is behind a
    one-byte test of a character it needs: most bodies hold neither, and a big one of digits (a
    million token ids) is passed over at memory speed instead of at the two-byte search's pace."""
    return (b"-" in out and b"e-" in out) or (b"." in out and b"0.0000" in out)


def _exact(out: bytes) -> bytes:
    """``out`` in a buffer of its own size. orjson's bytes keep the buffer it wrote into, at least
    4 KB resident for a body of 100 bytes: what the memo and the stores keep would cost 5 to 40
    times its length. A copy of a small body costs well under a microsecond; a big one's unused
    capacity is never touched, so never resident, and it is left as it is."""
    return bytes(memoryview(out)) if len(out) < _EXACT_BELOW else out


def _stdlib(value: Any, default: Callable[[Any], Any] | None = None, sort_keys: bool = False) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=default,
                      sort_keys=sort_keys).encode()


def _candidates(out: bytes) -> list[int]:
    found = []
    for needle in (b"0.0000", b"e-"):
        at = out.find(needle)
        while at >= 0:
            found.append(at)
            at = out.find(needle, at + 1)
    return sorted(found)


def _maybe_number(out: bytes, where: int) -> bool:
    """Whether the bytes around ``where`` can be a number token: in compact JSON one starts after
    ``:``, ``,`` or ``[`` (or the start) and ends before ``,``, ``]`` or ``}`` (or the end). A
    candidate that fails is inside a string (an id's ``...3e-4a...``): no string is looked at."""
    left = right = where
    while left > 0 and out[left - 1] in _NUMBER_BYTES:
        left -= 1
    while right < len(out) and out[right] in _NUMBER_BYTES:
        right += 1
    return ((left == 0 or out[left - 1] in _BEFORE_NUMBER)
            and (right == len(out) or out[right] in _AFTER_NUMBER))


def _respell(out: bytes) -> bytes:
    """The numbers orjson spelt otherwise, spelt by ``repr`` (the same float); text in strings stays."""
    candidates = [where for where in _candidates(out) if _maybe_number(out, where)]
    if not candidates:
        return _exact(out)
    strings = [m.span() for m in _STRING.finditer(out)]
    pieces: list[bytes] = []
    done = 0  # out[:done] is in pieces
    at = 0  # index into strings
    for where in candidates:
        if where < done:
            continue  # inside the number just rewritten
        while at < len(strings) and strings[at][1] <= where:
            at += 1
        if at < len(strings) and strings[at][0] <= where:
            continue  # inside a string
        left = right = where
        while left > 0 and out[left - 1] in _NUMBER_BYTES:
            left -= 1
        while right < len(out) and out[right] in _NUMBER_BYTES:
            right += 1
        if left == where and out[where] == 0x65 or not _DIGITS & set(out[left:right]):
            continue  # not a number ("e-" after a letter cannot be outside a string: a safety net)
        spelt = repr(float(out[left:right])).encode()
        pieces += (out[done:left], spelt)
        done = right
    pieces.append(out[done:])
    return b"".join(pieces)


def _has_non_finite(value: Any) -> bool:
    """Whether a float NaN or infinity is anywhere in ``value`` (walked without recursion)."""
    stack = [value]
    pop, push = stack.pop, stack.extend
    while stack:
        item = pop()
        kind = type(item)
        if kind is str or kind is int or item is None or kind is bool:
            continue  # the common leaves first: one type test each
        if kind is dict:
            push(item.values())
        elif kind is list or kind is tuple:
            push(item)
        elif isinstance(item, float):
            if not isfinite(item):
                return True
        elif isinstance(item, dict):
            push(item.values())
        elif isinstance(item, (list, tuple)):
            push(item)
    return False


def dumps_float32(vector: np.ndarray) -> bytes:
    """``dumps(vector.tolist())`` for a one-dimensional float32 array (an embedding), without its
    Python floats: orjson writes the array widened to float64 (the very doubles ``tolist`` gives).
    The only numbers it spells otherwise than ``repr`` are those below 1e-4 in magnitude (a double
    under 1e-4 is the only kind ``repr`` writes with an exponent, ``e-05``, short of 1e16): they are
    set to NaN before, which orjson writes ``null``, and each ``null`` is then replaced by the
    ``repr`` of the number it stands for."""
    wide = vector.astype(np.float64)
    if not np.isfinite(wide).all():  # NaN and the infinities: json's spelling
        return dumps(wide.tolist())
    tiny = np.abs(wide) < 1e-4
    tiny &= wide != 0
    if not tiny.any():
        return orjson.dumps(wide, option=orjson.OPT_SERIALIZE_NUMPY)
    spelt = [repr(value).encode() for value in wide[tiny].tolist()]
    wide[tiny] = np.nan
    out = orjson.dumps(wide, option=orjson.OPT_SERIALIZE_NUMPY)
    pieces: list[bytes] = []
    done = 0  # out[:done] is in pieces
    for text in spelt:
        at = out.index(b"n", done)  # a one-byte search is a memchr; no number holds an "n"
        pieces += (out[done:at], text)
        done = at + 4  # past the "null"
    pieces.append(out[done:])
    return b"".join(pieces)


def dumps_finite(value: Any) -> bytes:
    """``dumps`` for a value of strings, lists, dicts and finite numbers only (a journal entry's
    chunk times and texts): the same bytes without the walk for NaN and infinities, which a
    ``null`` anywhere in the output, a string's included, would otherwise set off."""
    out = orjson.dumps(value, option=_OPTIONS)
    return _respell(out) if _may_differ(out) else _exact(out)


def map_strings(value: Any, change: Callable[[str], Any]) -> Any:
    """JSON data with ``change`` applied to every string value in it (keys are left as they are)."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {k: map_strings(v, change) for k, v in value.items()}
    if isinstance(value, list):
        return [map_strings(v, change) for v in value]
    return value
