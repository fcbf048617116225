"""The embedding vectors computed with numpy are, to the last float32 bit, those of the
float-at-a-time Python definition (``vector_reference``), on texts and token lists of every kind."""

from __future__ import annotations

import random
import struct

import pytest
from vector_reference import reference_vector

from emulator.generation.vectors import embed, embed_array, embed_uncached

ODD = ["", " ", "a", "A", "_", "9", "x" * 3000, "İstanbul İİ ǅungla ﬁne STRASSE Straße", "ΣΑΣ σας",
       "東京 データ 한국어", "émigré naïve café", "tab\tsep\x0bvertical\x0cform", "a\u0301 e\u0308",
       "\U0001F600 emoji \U0001F600", "the the the the the the the the", "ab " * 900,
       "Text to embed 12345", "Hello, my name is Tom, how are you?"]


def random_texts(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    alphabet = "abcdeéÉßİıΣσ東_0123 \n.,;!?-'\"" + "ABCDEFG"
    words = ["alpha", "beta", "gamma", "delta", "the", "a", "of", "x"]
    texts = []
    for _ in range(count):
        if rng.random() < 0.5:
            texts.append(" ".join(rng.choice(words) for _ in range(rng.randint(0, 60))))
        else:
            texts.append("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 300))))
    return texts


def bits(vector: list[float]) -> bytes:
    return struct.pack(f"<{len(vector)}f", *vector)


@pytest.mark.parametrize("size, dimensions", [(1024, 1024), (1024, 256), (384, 384), (64, 7), (7, 7), (1, 1)])
def test_vectors_are_the_reference_to_the_last_bit(size, dimensions):
    for text in ODD + random_texts(400, size + dimensions):
        expected = reference_vector(text, size, dimensions)
        assert bits(embed_uncached(text, size, dimensions)) == bits(expected), text


def test_token_list_vectors_are_the_reference_to_the_last_bit():
    rng = random.Random(3)
    for _ in range(300):
        tokens = [rng.randint(0, 70_000) for _ in range(rng.randint(0, 40))]
        assert embed(tokens, 1024) == reference_vector(tokens, 1024, 1024)


def test_the_cached_array_and_the_list_are_one_vector():
    array = embed_array("cached twice", 1024, 512)
    assert array.dtype == "<f4" and not array.flags.writeable
    assert array.tolist() == embed("cached twice", 1024, 512) == reference_vector("cached twice", 1024, 512)
