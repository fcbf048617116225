"""The contentless BM25 index: forgetting an upload leaves exactly the index of the others, and
an upload forgotten without its texts makes the next search build the index again."""

from __future__ import annotations

import asyncio

import numpy as np

from emulator.documents.lexical import LexicalIndex, Matches

FILES = {
    "1.a": ["the contract ends on termination notice", "invoices are overdue after thirty days"],
    "2.b": ["termination of the contract needs a written notice", "the travel budget is approved"],
    "3.c": ["customer data is protected", "termination termination termination", "nothing here"],
}
QUERY = "What does the contract say about termination?"


def as_tuples(found: Matches) -> list[tuple[str, int, float]]:
    return sorted((found.keys[int(s)], int(i), float(v))
                  for s, i, v in zip(found.slots, found.indices, found.scores, strict=True))


async def matches_of(index: LexicalIndex, keys: list[str]) -> list[tuple[str, int, float]]:
    return as_tuples(await index.matches(QUERY, keys))


def test_forgetting_an_upload_leaves_the_scores_of_an_index_built_without_it() -> None:
    async def scenario() -> tuple[list, list, list]:
        index, fresh = LexicalIndex(), LexicalIndex()
        try:
            for key, texts in FILES.items():
                await index.add(key, texts)
            everything = await matches_of(index, list(FILES))
            index.remove("2.b", FILES["2.b"])
            for key in ("1.a", "3.c"):
                await fresh.add(key, FILES[key])
            kept = ["1.a", "3.c"]
            return everything, await matches_of(index, kept), await matches_of(fresh, kept)
        finally:
            index.close()
            fresh.close()

    everything, after, fresh = asyncio.run(scenario())
    assert any(key == "2.b" for key, _, _ in everything)
    assert after == fresh  # BM25 statistics without the forgotten upload, to the last bit
    assert after != [row for row in everything if row[0] != "2.b"]  # and they did change
    assert all(np.isfinite(score) and score > 0 for _, _, score in after)


def test_forgetting_an_upload_without_its_texts_drops_the_index_to_be_built_again() -> None:
    async def scenario() -> tuple[set[str], list, list]:
        index, fresh = LexicalIndex(), LexicalIndex()
        try:
            for key, texts in FILES.items():
                await index.add(key, texts)
            index.remove("2.b", None)
            left = index.keys()
            for key in ("1.a", "3.c"):
                await index.add(key, FILES[key])
                await fresh.add(key, FILES[key])
            return left, await matches_of(index, ["1.a", "3.c"]), await matches_of(fresh, ["1.a", "3.c"])
        finally:
            index.close()
            fresh.close()

    left, rebuilt, fresh = asyncio.run(scenario())
    assert left == set()
    assert rebuilt == fresh
