"""Retrieval ranks a fixed corpus exactly as recorded: the same chunks, in the same order, with the
same fused score, distance, BM25 and certainty, number for number (``ranking_corpus.py`` made the
recording, with the retrieval that computed every score in pure Python)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ranking_corpus import ranking

from emulator.app import Emulator
from emulator.config import Settings

RECORDED = Path(__file__).parent / "recorded" / "retrieval_ranking.json"
pytestmark = pytest.mark.anyio


async def test_the_ranking_of_the_fixed_corpus_is_the_recorded_one():
    expected = json.loads(RECORDED.read_text())
    got = await ranking(Emulator(Settings()))
    assert len(got) == len(expected)
    for mine, theirs in zip(got, expected, strict=True):
        assert mine == theirs, mine["query"]
