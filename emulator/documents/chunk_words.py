"""The distinct words of many chunks, each with its count, in each chunk's first-seen order.

This is what ``collections.Counter(vectors.features(text))`` gives for every text of a batch, as
three arrays instead of one Counter a chunk: building a Python object for every word of every
chunk was most of ingestion's time. An ASCII text (the common case) is never cut into words in
Python: the batch's ASCII texts are one byte string, lowercased and blanked where ``\\w`` does not
match (``bytes.translate``), and numpy finds where each word begins and ends. A word of at most 8
bytes is then the number its bytes make (read in place, masked to its length: a word holds no zero
byte, so two words never make the same number); a longer word, the rarer kind, is sliced out as
bytes. A text with any other character is cut by ``vectors.features`` itself. One sort of
(chunk, word, place) numbers then finds each chunk's distinct words, their counts and the place
each first occurs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from ..generation import vectors

# Lowercases an ASCII text and blanks every byte ``\w`` does not match (on ASCII, \w is
# [A-Za-z0-9_]): its ``split()`` is then exactly the lowercased words ``vectors.features`` finds.
ASCII_WORDS = bytes(c + 32 if 65 <= c <= 90 else c if chr(c).isalnum() or c == 95 else 32
                    for c in range(128)) + b" " * 128
_BLANK = 32
_MASKS = np.array([(1 << (8 * n)) - 1 for n in range(9)], dtype=np.uint64)  # the low n bytes


class Words(NamedTuple):
    """Every (chunk, distinct word) of a batch, chunk after chunk, each chunk's in first-seen order:
    ``chunks[i]`` holds ``words[ids[i]]`` (UTF-8 bytes) ``times[i]`` times."""

    chunks: np.ndarray  # intp
    ids: np.ndarray  # intp, into ``words``
    times: np.ndarray  # float64
    words: list[bytes]


def counted(texts: Sequence[str]) -> Words:
    ascii_rows = [i for i, text in enumerate(texts) if text.isascii()]
    if len(ascii_rows) == len(texts):
        return _ascii(list(texts), np.arange(len(texts), dtype=np.intp))
    fast = _ascii([texts[i] for i in ascii_rows], np.array(ascii_rows, dtype=np.intp))
    other = [i for i, text in enumerate(texts) if not text.isascii()]
    words = list(fast.words)
    number = {word: i for i, word in enumerate(words)}
    chunks: list[int] = []
    ids: list[int] = []
    times: list[int] = []
    for row in other:
        for word, times_seen in Counter(w.encode("utf-8") for w in vectors.features(texts[row])).items():
            found = number.get(word)
            if found is None:
                found = number[word] = len(words)
                words.append(word)
            chunks.append(row)
            ids.append(found)
            times.append(times_seen)
    all_chunks = np.concatenate([fast.chunks, np.array(chunks, dtype=np.intp)])
    order = np.argsort(all_chunks, kind="stable")  # chunk after chunk, each one's words kept in order
    return Words(all_chunks[order], np.concatenate([fast.ids, np.array(ids, dtype=np.intp)])[order],
                 np.concatenate([fast.times, np.array(times, dtype=np.float64)])[order], words)


def _ascii(texts: list[str], rows: np.ndarray) -> Words:
    """``counted`` of ASCII texts; ``rows``: the chunk number each of them stands for."""
    none = np.zeros(0, dtype=np.intp)
    if not texts:
        return Words(none, none, np.zeros(0, dtype=np.float64), [])
    # The texts one after the other, a blank between two and eight after the last (so that a word
    # ends before the end, and 8 bytes can be read from any word's start).
    blob = " ".join(texts).encode("ascii").translate(ASCII_WORDS) + b" " * 8
    data = np.frombuffer(blob, dtype=np.uint8)
    edges = np.flatnonzero(np.diff((data != _BLANK).view(np.int8), prepend=np.int8(0)).view(np.bool_))
    starts, ends = edges[0::2], edges[1::2]
    if not len(starts):
        return Words(none, none, np.zeros(0, dtype=np.float64), [])
    lengths = ends - starts
    firsts = np.cumsum([0] + [len(text) + 1 for text in texts[:-1]])
    per_text = np.diff(np.append(np.searchsorted(starts, firsts), len(starts)))  # words a text holds
    chunk_of = np.repeat(np.arange(len(texts), dtype=np.int64), per_text)

    ids = np.empty(len(starts), dtype=np.int64)
    windows = np.ndarray((len(blob) - 7,), dtype="<u8", buffer=blob, strides=(1,))  # 8 bytes from each byte
    short = lengths <= 8
    values = windows[starts[short]] & _MASKS[lengths[short]]
    distinct, ids[short] = np.unique(values, return_inverse=True)
    words = [int(v).to_bytes(8, "little").rstrip(b"\0") for v in distinct.tolist()]
    middle = np.flatnonzero((lengths > 8) & (lengths <= 16))
    if len(middle):  # a word of 9 to 16 bytes: two numbers, numbered as one pair
        heads, head_ids = np.unique(windows[starts[middle]], return_inverse=True)
        rest = windows[starts[middle] + 8] & _MASKS[lengths[middle] - 8]
        tails, tail_ids = np.unique(rest, return_inverse=True)
        pairs, ids[middle] = np.unique(head_ids * len(tails) + tail_ids, return_inverse=True)
        ids[middle] += len(words)
        words += [int(heads[p // len(tails)]).to_bytes(8, "little")
                  + int(tails[p % len(tails)]).to_bytes(8, "little").rstrip(b"\0") for p in pairs.tolist()]
    longer = np.flatnonzero(lengths > 16)
    if len(longer):  # rarer still: sliced out as bytes
        sliced = [blob[s:e] for s, e in zip(starts[longer].tolist(), ends[longer].tolist(), strict=True)]
        number = {word: i for i, word in enumerate(dict.fromkeys(sliced), len(words))}
        ids[longer] = np.fromiter(map(number.__getitem__, sliced), dtype=np.int64, count=len(sliced))
        words += number

    # One sort of (chunk, word, place): a chunk's occurrences of a word together, the first one first.
    tokens = len(starts)
    place_bits = tokens.bit_length()
    word_bits = len(words).bit_length()
    if place_bits + word_bits + len(texts).bit_length() > 62:
        return _ascii_by_counter(texts, rows, words)
    keys = np.sort((chunk_of << (word_bits + place_bits)) | (ids << place_bits) | np.arange(tokens))
    groups = keys >> place_bits
    heads = np.flatnonzero(np.concatenate(([True], groups[1:] != groups[:-1])))
    times = np.diff(np.append(heads, tokens)).astype(np.float64)
    # The pairs in the order of their first occurrence (chunk after chunk, first seen first): each
    # pair's number written at the place its word first occurs, read back in the places' order.
    at_place = np.full(tokens, -1, dtype=np.int64)
    at_place[keys[heads] & ((1 << place_bits) - 1)] = np.arange(len(heads))
    order = at_place[at_place >= 0]
    pairs = groups[heads][order]
    word_mask = (1 << word_bits) - 1
    return Words(rows[pairs >> word_bits], (pairs & word_mask).astype(np.intp), times[order], words)


def _ascii_by_counter(texts: list[str], rows: np.ndarray, words: list[bytes]) -> Words:
    """``_ascii`` one Counter a text (a batch too large for the packed sort keys)."""
    number = {word: i for i, word in enumerate(words)}
    counters = [Counter(text.encode("ascii").translate(ASCII_WORDS).split()) for text in texts]
    sizes = np.fromiter(map(len, counters), dtype=np.intp, count=len(counters))
    ids = np.fromiter((number[w] for c in counters for w in c), dtype=np.intp, count=int(sizes.sum()))
    times = np.fromiter((t for c in counters for t in c.values()), dtype=np.float64, count=len(ids))
    return Words(np.repeat(rows, sizes), ids, times, words)
