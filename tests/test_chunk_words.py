"""A batch's words counted in numpy are, chunk by chunk and in order, Counter(vectors.features(text))."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from emulator.documents import chunk_words
from emulator.generation.vectors import features

TEXTS = ["", "a", "The the THE tHe", "abcdefgh abcdefghi abcdefgh", "abcdefghijklmnop abcdefghijklmnopq",
         "aaaaaaaaa aaaaaaaab baaaaaaaa " * 3, "x" * 5000, "under_score 123abc 9 _", "  \n\n ",
         "café naïve Straße", "İstanbul", "mixed ascii then é", "end."]


def expected(texts: list[str]) -> list[tuple[int, bytes, int]]:
    return [(row, word.encode(), times) for row, text in enumerate(texts)
            for word, times in Counter(features(text)).items()]


def found(words: chunk_words.Words) -> list[tuple[int, bytes, int]]:
    return [(int(row), words.words[i], int(times))
            for row, i, times in zip(words.chunks, words.ids, words.times, strict=True)]


@pytest.mark.parametrize("texts", [pytest.param(TEXTS, id="mixed"), pytest.param(TEXTS[:9], id="ascii"),
                                   pytest.param(TEXTS[9:11], id="unicode"), pytest.param([], id="none")])
def test_counted_words_are_each_chunks_counter(texts):
    assert found(chunk_words.counted(texts)) == expected(texts)


def test_the_counter_path_for_huge_batches_counts_the_same():
    texts = TEXTS[:9]
    fast = chunk_words.counted(texts)
    slow = chunk_words._ascii_by_counter(texts, np.arange(len(texts)), fast.words)
    assert found(slow) == expected(texts)
