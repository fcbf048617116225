"""The journal on Redis, written in batches: a SIGKILL in the middle of a load loses no entry of a
request whose response was read, and each client's entries are in the order it sent them."""

from __future__ import annotations

import signal
import threading

import httpx

from tests.cli_process import start_cli
from tests.conftest import KEY
from tests.redis_process import redis_process  # noqa: F401  (the fixture)
from tests.test_durability import sigkill_amid

AUTH = {"Authorization": f"Bearer {KEY}"}


def test_sigkill_amid_concurrent_requests_loses_and_reorders_no_journal_entry(redis_process):  # noqa: F811
    process, base = start_cli("--redis-url", redis_process.url)
    answered: dict[int, list[str]] = {0: [], 1: [], 2: []}  # per client, the texts whose answer was read
    lock = threading.Lock()
    sent = [0, 0, 0]

    def chat(client: httpx.Client, worker: int) -> None:
        sent[worker] += 1
        text = f"client {worker} request {sent[worker]}"
        response = client.post(base + "/api/v2/chat/completions", headers=AUTH, json={
            "model": "alfred-4.2", "messages": [{"role": "user", "content": text}], "max_tokens": 4})
        assert response.status_code == 200
        with lock:
            answered[worker].append(text)

    try:
        sigkill_amid(process, chat, lambda: sum(map(len, answered.values())), want=300, seconds=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert sum(map(len, answered.values())) >= 300

    process, base = start_cli("--redis-url", redis_process.url)
    try:
        entries = httpx.get(base + "/_emulator/journal", params={"after": 0}, timeout=30).json()["requests"]
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=20)
    seqs = [e["seq"] for e in entries]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    journaled = [e["body"]["messages"][0]["content"] for e in entries
                 if e["path"] == "/api/v2/chat/completions"]
    for worker, texts in answered.items():
        mine = [text for text in journaled if text.startswith(f"client {worker} ")]
        # Every answered request is there, in the order sent (an unanswered last one may be there too).
        assert mine[:len(texts)] == texts, worker
        assert len(mine) - len(texts) <= 1
