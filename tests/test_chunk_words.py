"""A batch's words counted in numpy are, chunk by chunk and in order, Counter(vectors.features(text))."""

from __future__ import annotations

import random
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
    slow = chunk_words._ascii_by_counter(texts, np.arange(len(texts)), chunk_words.Vocabulary())
    assert found(slow) == expected(texts)


def many_words(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789_") for _ in range(rng.randint(1, 20)))
             for _ in range(count)]
    return [" ".join(words[i:i + 300]) for i in range(0, count, 300)]


def test_a_vocabulary_shared_by_batches_counts_each_batch_as_alone():
    vocabulary = chunk_words.Vocabulary()
    first, second = TEXTS[:9], ["the THE abcdefghi new words", "abcdefgh end"] + TEXTS[:9]
    assert found(chunk_words.counted(first, vocabulary)) == expected(first)
    assert found(chunk_words.counted(second, vocabulary)) == expected(second)


def test_a_vocabulary_grown_past_its_first_table_numbers_every_word_once():
    vocabulary = chunk_words.Vocabulary()
    texts = many_words(3 * chunk_words.FIRST_SLOTS, seed=3)
    assert found(chunk_words.counted(texts, vocabulary)) == expected(texts)
    numbered = len(vocabulary.words)
    assert found(chunk_words.counted(texts[::-1], vocabulary)) == expected(texts[::-1])
    assert len(vocabulary.words) == numbered
