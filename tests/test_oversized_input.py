"""Input over a model's context is refused before the heavy work (from its length alone, or counted
with an early stop at the limit), and large inputs are counted off the event loop."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.cli_process import start_cli
from tests.conftest import KEY
from tests.timing import while_running

WORDS = "the quick brown fox jumps over a lazy dog, 12345 times! "


def _text(chars: int) -> str:
    return (WORDS * (chars // len(WORDS) + 1))[:chars]


def _post(root: str, path: str, raw: bytes) -> httpx.Response:
    return httpx.post(root + "/api/v2" + path, content=raw, timeout=60.0,
                      headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})


@pytest.fixture(scope="module")
def served():
    """The emulator in a process of its own: the client's work never holds the server's GIL."""
    process, root = start_cli("--max-body-mb", "30")
    yield root
    process.terminate()
    process.communicate(timeout=30)


CASES = {
    "chat-25mb": ("/chat/completions", lambda: {
        "model": "alfred-4.2", "messages": [{"role": "user", "content": _text(24_000_000)}]}),
    "embeddings-10x2mb": ("/embeddings", lambda: {"model": "multilingual-e5-large",
                                                  "input": [_text(2_000_000)] * 10}),
    "embeddings-2048x2000": ("/embeddings", lambda: {"model": "multilingual-e5-large",
                                                     "input": ["a " * 1000] * 2048}),
}
# The 400 each case was always answered with, byte for byte (a token is at most 9 characters: the
# first two are refused from their length alone).
EMBEDDING = "tokens in the input for embedding generation. Please reduce the length of the input."
REFUSALS = {
    "chat-25mb": "This model's maximum context length is 32768 tokens. However, you requested 2666671 tokens "
                 "in the messages, Please reduce the length of the messages.",
    "embeddings-10x2mb": "This model's maximum context length is 512 tokens. However, you requested 222223 "
                         + EMBEDDING,
    "embeddings-2048x2000": "This model's maximum context length is 512 tokens. However, you requested 1001 "
                            + EMBEDDING,
}


@pytest.mark.timing
@pytest.mark.parametrize("case", list(CASES))
def test_oversized_input_is_refused_quickly_and_holds_nobody(served, case):
    path, make = CASES[case]
    raw = json.dumps(make()).encode()
    _post(served, "/embeddings", json.dumps({"model": "multilingual-e5-large", "input": "warm"}).encode())
    response, seconds, health = while_running(lambda: _post(served, path, raw), served + "/_emulator/health")
    assert response.status_code == 400, response.text[:300]
    assert response.json() == {"error": {"message": REFUSALS[case], "type": "BadRequestError", "param": None,
                                         "code": 400}}
    # bench/bench_bigbody.py measures the targets (< 0.5 s, health < 50 ms). On a 2-core machine shared
    # by a dozen processes, where a health check alone waited up to 0.1 s, it saw up to 5 s and 0.57 s
    # before the body was read in pieces, 2.5 s and 0.33 s after. The bounds here are ones such a
    # machine never crosses; that the event loop serves others while a big body is read is tested
    # without a clock in test_json_reader.py.
    assert seconds < 8.0
    slowest = max(health, default=0.0)
    assert slowest < 1.5, f"health took {slowest:.3f} s"
