"""A fixed corpus and query set for comparing retrieval's ranking with a recorded one.

``python tests/ranking_corpus.py OUT.json`` stores, for every query, the hits ``Retrieval.search``
gives (file id, chunk index, fused score, distance, BM25, certainty) over the corpus below; the test
``test_ranking_recorded.py`` checks the code today gives exactly the same, number for number. The
corpus mixes prose over a small vocabulary (many ties on words), repeated chunks (exact ties), rare
words, Unicode and files of very different sizes, so both halves of the fused score matter.
"""

from __future__ import annotations

import asyncio
import json
import random
import string
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from emulator.app import Emulator

QUESTIONS = ["What does the contract say about termination?", "Which invoices are overdue?",
             "Who approves the travel budget?", "How is customer data protected?",
             "the", "budget budget budget", "?!", "Résumé café naïve", "zzzz unknownword",
             "data", "the report says that our team will review the budget"]


def _vocabulary(rng: random.Random, size: int) -> list[str]:
    return ["".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 9)))
            for _ in range(size)]


def corpus() -> list[tuple[str, bytes]]:
    """(file name, bytes) of every file, in upload order."""
    rng = random.Random(20260101)
    common = "the contract budget data customer invoices travel approves protected overdue".split()
    vocabulary = _vocabulary(rng, 400) + common * 5
    files: list[tuple[str, bytes]] = []
    for n in range(48):
        paragraphs = []
        for _ in range(rng.choice((1, 3, 60, 400, 1200))):
            sentences = [" ".join(rng.choice(vocabulary) for _ in range(rng.randint(4, 20))).capitalize()
                         + "." for _ in range(rng.randint(1, 9))]
            paragraphs.append(" ".join(sentences))
        if n % 5 == 0:
            paragraphs += ["The travel budget is approved by the finance team."] * 6  # exact ties
        if n % 7 == 3:
            paragraphs.append("Résumé du café: naïve façade, Ærø, straße, ΑΒΓ δέλτα, 東京 データ.")
        rare = "".join(rng.choice(string.ascii_lowercase) for _ in range(12))
        paragraphs.append(f"Rare word of file {n}: {rare}")
        files.append((f"doc-{n}.txt", "\n\n".join(paragraphs).encode()))
    return files


def queries(files: list[tuple[str, bytes]]) -> list[dict[str, Any]]:
    """The searches: questions at several ``n``, over everything or a few files, and each rare word."""
    out: list[dict[str, Any]] = []
    for question in QUESTIONS:
        for n in (1, 5, 20):
            out.append({"query": question, "n": n, "file_ids": None})
        out.append({"query": question, "n": 8, "file_ids": [2, 5, 11, 17]})
    for _, data in files:
        rare = data.decode().rsplit(" ", 1)[-1]
        out.append({"query": f"Tell me about {rare}", "n": 3, "file_ids": None})
    return out


async def ranking(emulator: Emulator) -> list[dict[str, Any]]:
    """Upload the corpus into ``emulator``, run every query: -> results."""
    from emulator.documents.store import NewFile

    files = corpus()
    for name, data in files:
        record = await emulator.files.add(NewFile(name, name, "documents", 1, data))
        await emulator.ingestion.settle([record])
    results = []
    for q in queries(files):
        hits = await emulator.retrieval.search(q["query"], file_ids=q["file_ids"], n=q["n"])
        results.append({**q, "hits": [[h.record.id, h.chunk.index, h.score, h.distance, h.lexical_score,
                                       h.certainty] for h in hits]})
    return results


async def _record(path: str) -> None:
    from emulator.app import Emulator
    from emulator.config import Settings

    emulator = Emulator(Settings())
    results = await ranking(emulator)
    with open(path, "w") as out:
        out.write("[\n" + ",\n".join(json.dumps(result) for result in results) + "\n]\n")


if __name__ == "__main__":
    asyncio.run(_record(sys.argv[1]))
