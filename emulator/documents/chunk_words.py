"""The distinct words of many chunks, each with its count, in each chunk's first-seen order.

This is what ``collections.Counter(vectors.features(text))`` gives for every text of a batch, as
three arrays instead of one Counter a chunk: building a Python object for every word of every
chunk was most of ingestion's time. An ASCII text (the common case) is never cut into words in
Python: the batch's ASCII texts are one byte string, lowercased and blanked where ``\\w`` does not
match (``bytes.translate``), and numpy finds where each word begins and ends. A word of up to 16
bytes is then a pair of numbers, the integers its first 8 bytes and the rest make (read in place,
masked to its length: a word holds no zero byte, so two words never make the same pair), looked
up in a ``Vocabulary``, a hash table in numpy arrays that numbers a file's words once for all its
batches (sorting each batch's words to number them was a third of the batch's time); a longer word,
the rarer kind, is sliced out as bytes. A text with any other character is cut by
``vectors.features`` itself. One sort of (chunk, word, place) numbers then finds each chunk's
distinct words, their counts and the place each first occurs.
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
_ASCII_TABLE = np.frombuffer(ASCII_WORDS, dtype=np.uint8)
_BLANK = 32
_MASKS = np.array([(1 << (8 * n)) - 1 for n in range(9)], dtype=np.uint64)  # the low n bytes
# Odd multipliers: the top bits of (head * one) ^ (tail * other) are a pair's slot.
_MIX_HEAD, _MIX_TAIL = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F)
FIRST_SLOTS = 1 << 14


class Words(NamedTuple):
    """Every (chunk, distinct word) of a batch, chunk after chunk, each chunk's in first-seen order:
    ``chunks[i]`` holds ``words[ids[i]]`` (UTF-8 bytes) ``times[i]`` times."""

    chunks: np.ndarray  # intp
    ids: np.ndarray  # intp, into ``words``
    times: np.ndarray  # float64
    words: list[bytes]


class Vocabulary:
    """Words numbered in the order they are first met: ``words[i]`` is word ``i``.

    The words of up to 16 bytes are held as (head, tail) pairs in an open-addressing hash table
    (linear probing, at most half full, an empty slot's head 0), looked up for a whole batch at once
    in numpy: each round, every word still unresolved reads its slot; a match gives its number, an
    empty slot is claimed (one claimant a slot wins and is numbered; the others look again), any
    other word moves to the next slot. Other words (longer, or from a Unicode text) are numbered
    in a dictionary."""

    def __init__(self) -> None:
        self.words: list[bytes] = []
        self._by_bytes: dict[bytes, int] = {}
        self._allocate(FIRST_SLOTS)

    def _allocate(self, slots: int) -> None:
        self._heads = np.zeros(slots, dtype=np.uint64)
        self._tails = np.zeros(slots, dtype=np.uint64)
        self._ids = np.zeros(slots, dtype=np.int64)
        self._claims = np.zeros(slots, dtype=np.int64)
        self._shift = np.uint64(64 - (slots.bit_length() - 1))
        self._held = 0

    def _slots(self, heads: np.ndarray, tails: np.ndarray) -> np.ndarray:
        return (((heads * _MIX_HEAD) ^ (tails * _MIX_TAIL)) >> self._shift).astype(np.intp)

    def numbers(self, heads: np.ndarray, tails: np.ndarray) -> np.ndarray:
        """The number of every word (head, tail): ``heads`` its first 8 bytes as a little-endian
        integer, ``tails`` the rest (0 for a word of at most 8 bytes); new words are numbered."""
        ids = np.empty(len(heads), dtype=np.int64)
        pending = np.arange(len(heads), dtype=np.intp)
        slots = self._slots(heads, tails)
        mask = len(self._heads) - 1
        while len(pending):
            at = slots[pending]
            held = self._heads[at]
            hit = (held == heads[pending]) & (self._tails[at] == tails[pending])
            ids[pending[hit]] = self._ids[at[hit]]
            empty = held == 0
            claimants = pending[empty]
            if len(claimants):
                places = at[empty]
                self._claims[places] = claimants
                won = self._claims[places] == claimants  # whichever was written last: one a slot
                winners, places = claimants[won], places[won]
                numbers = np.arange(len(self.words), len(self.words) + len(winners))
                self._heads[places] = heads[winners]
                self._tails[places] = tails[winners]
                self._ids[places] = numbers
                ids[winners] = numbers
                self._held += len(winners)
                self.words += [_bytes(h, t) for h, t in zip(heads[winners].tolist(), tails[winners].tolist(),
                                                             strict=True)]
                resolved = hit | empty
                resolved[empty] = won
                moved = ~(hit | empty)
            else:
                resolved, moved = hit, ~hit
            slots[pending[moved]] = (at[moved] + 1) & mask
            pending = pending[~resolved]
            if self._held * 2 > len(self._heads):
                self._grow()
                mask = len(self._heads) - 1
                slots[pending] = self._slots(heads[pending], tails[pending])
        return ids

    def _grow(self) -> None:
        used = np.flatnonzero(self._heads)
        heads, tails, ids = self._heads[used], self._tails[used], self._ids[used]
        self._allocate(2 * len(self._heads))
        mask = len(self._heads) - 1
        slots = self._slots(heads, tails)
        pending = np.arange(len(heads), dtype=np.intp)
        while len(pending):  # the words are distinct: each takes the first free slot of its probe
            at = slots[pending]
            free = self._heads[at] == 0
            claimants, places = pending[free], at[free]
            self._claims[places] = claimants
            won = self._claims[places] == claimants
            winners, places = claimants[won], places[won]
            self._heads[places], self._tails[places] = heads[winners], tails[winners]
            self._ids[places] = ids[winners]
            lost = np.ones(len(pending), dtype=np.bool_)
            lost[np.flatnonzero(free)[won]] = False
            slots[pending[~free]] = (at[~free] + 1) & mask
            pending = pending[lost]
        self._held = len(heads)

    def number(self, word: bytes) -> int:
        """The number of a word held as bytes (longer than 16, or cut from a Unicode text)."""
        found = self._by_bytes.get(word)
        if found is None:
            found = self._by_bytes[word] = len(self.words)
            self.words.append(word)
        return found


def _bytes(head: int, tail: int) -> bytes:
    word = head.to_bytes(8, "little")
    return word + tail.to_bytes(8, "little").rstrip(b"\0") if tail else word.rstrip(b"\0")


def counted(texts: Sequence[str], vocabulary: Vocabulary | None = None) -> Words:
    """The words of ``texts``, numbered in ``vocabulary`` (a fresh one when none is given)."""
    vocabulary = Vocabulary() if vocabulary is None else vocabulary
    ascii_rows = [i for i, text in enumerate(texts) if text.isascii()]
    if len(ascii_rows) == len(texts):
        return _ascii(list(texts), np.arange(len(texts), dtype=np.intp), vocabulary)
    fast = _ascii([texts[i] for i in ascii_rows], np.array(ascii_rows, dtype=np.intp), vocabulary)
    chunks: list[int] = []
    ids: list[int] = []
    times: list[int] = []
    for row in (i for i, text in enumerate(texts) if not text.isascii()):
        for word, times_seen in Counter(w.encode("utf-8") for w in vectors.features(texts[row])).items():
            chunks.append(row)
            ids.append(vocabulary.number(word))
            times.append(times_seen)
    all_chunks = np.concatenate([fast.chunks, np.array(chunks, dtype=np.intp)])
    order = np.argsort(all_chunks, kind="stable")  # chunk after chunk, each one's words kept in order
    return Words(all_chunks[order], np.concatenate([fast.ids, np.array(ids, dtype=np.intp)])[order],
                 np.concatenate([fast.times, np.array(times, dtype=np.float64)])[order], vocabulary.words)


def _ascii(texts: list[str], rows: np.ndarray, vocabulary: Vocabulary) -> Words:
    """``counted`` of ASCII texts; ``rows``: the chunk number each of them stands for."""
    none = np.zeros(0, dtype=np.intp)
    if not texts:
        return Words(none, none, np.zeros(0, dtype=np.float64), vocabulary.words)
    # The texts one after the other, a blank between two and sixteen after the last (so that a word
    # ends before the end, and 16 bytes can be read from any word's start).
    # Translated in numpy (a gather, without the GIL: a second thread's batch goes on meanwhile).
    data = _ASCII_TABLE[np.frombuffer((" ".join(texts) + " " * 16).encode("ascii"), dtype=np.uint8)]
    edges = np.flatnonzero(np.diff((data != _BLANK).view(np.int8), prepend=np.int8(0)).view(np.bool_))
    starts, ends = edges[0::2], edges[1::2]
    if not len(starts):
        return Words(none, none, np.zeros(0, dtype=np.float64), vocabulary.words)
    lengths = ends - starts
    firsts = np.cumsum([0] + [len(text) + 1 for text in texts[:-1]])
    per_text = np.diff(np.append(np.searchsorted(starts, firsts), len(starts)))  # words a text holds
    chunk_of = np.repeat(np.arange(len(texts), dtype=np.int64), per_text)

    ids = np.empty(len(starts), dtype=np.int64)
    windows = np.ndarray((len(data) - 7,), dtype="<u8", buffer=data, strides=(1,))  # 8 bytes from each byte
    paired = np.flatnonzero(lengths <= 16)
    if len(paired) == len(starts):
        paired_starts, paired_lengths = starts, lengths
    else:
        paired_starts, paired_lengths = starts[paired], lengths[paired]
    heads = windows[paired_starts] & _MASKS[np.minimum(paired_lengths, 8)]
    tails = windows[paired_starts + 8] & _MASKS[np.clip(paired_lengths - 8, 0, 8)]
    ids[paired] = vocabulary.numbers(heads, tails)
    longer = np.flatnonzero(lengths > 16)
    if len(longer):  # rarer: sliced out as bytes
        ids[longer] = [vocabulary.number(data[s:e].tobytes())
                       for s, e in zip(starts[longer].tolist(), ends[longer].tolist(), strict=True)]
    words = vocabulary.words

    # One sort of (chunk, word, place): a chunk's occurrences of a word together, the first one first.
    tokens = len(starts)
    place_bits = tokens.bit_length()
    word_bits = len(words).bit_length()
    if place_bits + word_bits + len(texts).bit_length() > 62:
        return _ascii_by_counter(texts, rows, vocabulary)
    # The keys come chunk after chunk: the stable sort (a merge of sorted runs) is twice as fast here.
    keys = (chunk_of << (word_bits + place_bits)) | (ids << place_bits) | np.arange(tokens)
    keys.sort(kind="stable")
    groups = keys >> place_bits
    heads_at = np.flatnonzero(np.concatenate(([True], groups[1:] != groups[:-1])))
    times = np.diff(np.append(heads_at, tokens)).astype(np.float64)
    # The pairs in the order of their first occurrence (chunk after chunk, first seen first): each
    # pair's number written at the place its word first occurs, read back in the places' order.
    at_place = np.full(tokens, -1, dtype=np.int64)
    at_place[keys[heads_at] & ((1 << place_bits) - 1)] = np.arange(len(heads_at))
    order = at_place[at_place >= 0]
    pairs = groups[heads_at][order]
    word_mask = (1 << word_bits) - 1
    return Words(rows[pairs >> word_bits], (pairs & word_mask).astype(np.intp), times[order], words)


def _ascii_by_counter(texts: list[str], rows: np.ndarray, vocabulary: Vocabulary) -> Words:
    """``_ascii`` one Counter a text (a batch too large for the packed sort keys)."""
    counters = [Counter(text.encode("ascii").translate(ASCII_WORDS).split()) for text in texts]
    sizes = np.fromiter(map(len, counters), dtype=np.intp, count=len(counters))
    ids = np.fromiter((vocabulary.number(w) for c in counters for w in c), dtype=np.intp,
                      count=int(sizes.sum()))
    times = np.fromiter((t for c in counters for t in c.values()), dtype=np.float64, count=len(ids))
    return Words(np.repeat(rows, sizes), ids, times, vocabulary.words)
