"""Hybrid retrieval through real HTTP: a word that only one file holds brings that file first,
and every search reports its scores (fused, vector distance, BM25, certainty) deterministically."""

from __future__ import annotations

import random
import string

import pytest

FILLER_WORDS = ("the report says that our team will review the budget and the schedule for the next "
                "quarter while the office remains open and every customer receives a clear answer about "
                "their order the project plan covers design testing delivery and support").split()


def filler(rng: random.Random, sentences: int) -> str:
    return " ".join(" ".join(rng.choice(FILLER_WORDS) for _ in range(rng.randint(8, 16))).capitalize() + "."
                    for _ in range(sentences))


def rare_words(rng: random.Random, count: int) -> list[str]:
    words: set[str] = set()
    while len(words) < count:
        words.add("".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(7, 11))))
    return sorted(words)


@pytest.fixture
def three_files(backend_http) -> dict[str, int]:
    """Three files of filler, each holding a third of 200 rare words (one in a sentence of filler):
    -> rare word -> the id of the only file that holds it."""
    rng = random.Random(20251201)
    words = rare_words(rng, 200)
    owner: dict[str, int] = {}
    for n in range(3):
        mine = words[n::3]
        parts = [filler(rng, 6)]
        for word in mine:
            parts.append(f"{filler(rng, 1)[:-1]} {word} {filler(rng, 1).lower()}")
            parts.append(filler(rng, 2))
        text = "\n\n".join(parts).encode()
        response = backend_http.post("/api/v2/files", files={"file": (f"file-{n}.txt", text)})
        assert response.status_code == 200, response.text
        owner.update(dict.fromkeys(mine, response.json()["id"]))
    return owner


def test_document_search_ranks_the_only_file_with_a_rare_word_first_for_200_words(backend_http, three_files):
    wrong = []
    for word, file_id in three_files.items():
        body = backend_http.post("/api/v2/chat/document-search",
                                 json={"query": f"What does the report say about {word}?"}).json()
        if body["documents"][0]["id"] != file_id:
            wrong.append(word)
    assert wrong == []


def test_query_ranks_the_chunk_with_a_rare_word_first_for_200_words(backend_http, three_files):
    wrong = []
    for word, file_id in three_files.items():
        body = backend_http.post("/api/v2/query", json={"query": f"Tell me about {word}", "n": 3}).json()
        chunk = body["chunks"][0]
        if chunk["metadata"]["document_id"] != file_id or word not in chunk["text"]:
            wrong.append(word)
    assert wrong == []


def test_search_scores_are_the_same_every_time(backend_http, three_files):
    word = sorted(three_files)[0]
    first = backend_http.post("/api/v2/query", json={"query": f"about {word}", "n": 5}).content
    assert all(backend_http.post("/api/v2/query", json={"query": f"about {word}", "n": 5}).content == first
               for _ in range(3))
