"""`serve --workers 2` on one Redis: a rate limit holds across the workers (exactly N pass, never
N+1), the metrics cover every worker, and test spaces are the same on both."""

from __future__ import annotations

import concurrent.futures

import httpx

from tests.test_metrics import OP, samples, value
from tests.test_workers import (  # noqa: F401 (fixtures)
    module_workers,
    needs_redis,
    pids_seen,
    start_workers,
    workers,
)

CHAT = "/api/v2/chat/completions"
BODY = {"model": "alfred-4.2", "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 4}


def fresh_chat(base: str, key: str) -> httpx.Response:
    """On a new connection each time: the requests spread over both workers."""
    return httpx.post(base + CHAT, json=BODY, timeout=20,
                      headers={"Authorization": f"Bearer {key}", "Connection": "close"})


@needs_redis
def test_a_limit_holds_across_workers_and_the_metrics_cover_both(start_workers) -> None:  # noqa: F811
    base = start_workers("--rpm", "5")
    assert len(pids_seen(base)) == 2  # both workers answer
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(r.status_code for r in pool.map(lambda _: fresh_chat(base, "shared"), range(16)))
    assert statuses == [200] * 5 + [429] * 11
    entries = httpx.get(base + "/_emulator/journal", timeout=20).json()["requests"]
    assert len({e["status"] for e in entries}) == 2
    # Whichever worker is scraped, it adds up both workers' figures.
    for _ in range(4):
        scraped = httpx.get(base + "/_emulator/metrics", timeout=20, headers={"Connection": "close"})
        found = samples(scraped.text)
        assert value(found, "paradigm_emulator_requests_total", operation=OP, status="200") == 5
        assert value(found, "paradigm_emulator_requests_total", operation=OP, status="429") == 11
        assert value(found, "paradigm_emulator_rate_limited_total", operation=OP, limit="requests") == 11


@needs_redis
def test_a_space_s_fixtures_and_journal_are_the_same_on_every_worker(workers) -> None:  # noqa: F811
    base = workers
    fixture = {"name": "greeting", "match": {"operation": "chat"}, "response": {"content": "from A"}}
    posted = httpx.post(base + "/_emulator/fixtures", json=fixture, headers={"X-Emulator-Api-Key": "suite-a"},
                        timeout=20)
    assert posted.status_code == 201
    answers = {fresh_chat(base, "suite-a").json()["choices"][0]["message"]["content"] for _ in range(6)}
    assert answers == {"from A"}
    others = {fresh_chat(base, "suite-b").json()["choices"][0]["message"]["content"] for _ in range(4)}
    assert "from A" not in others
    journal = httpx.get(base + "/_emulator/journal", headers={"X-Emulator-Api-Key": "suite-a"}, timeout=20)
    assert len(journal.json()["requests"]) == 6


@needs_redis
def test_another_key_s_file_and_thread_are_hidden_on_every_worker(workers) -> None:  # noqa: F811
    base = workers

    def call(method: str, path: str, key: str, **options: object) -> httpx.Response:
        return httpx.request(method, base + path, timeout=20, **options,  # type: ignore[arg-type]
                             headers={"Authorization": f"Bearer {key}", "Connection": "close"})

    made = call("POST", "/api/v2/files", "key-a", files={"file": ("a.txt", b"Only A's words.")}).json()
    thread = call("POST", "/api/v3/threads", "key-a", json={"name": "A's"}).json()
    for _ in range(6):  # new connections: both workers answer in turn
        assert call("GET", f"/api/v2/files/{made['id']}", "key-b").status_code == 404
        assert call("GET", f"/api/v3/threads/{thread['id']}", "key-b").status_code == 404
        assert call("GET", f"/api/v2/files/{made['id']}", "key-a").status_code == 200
        assert call("GET", f"/api/v3/threads/{thread['id']}", "key-a").status_code == 200


@needs_redis
def test_a_limit_set_at_run_time_holds_on_the_next_request_to_any_worker(workers) -> None:  # noqa: F811
    """The run-time limits are watched records: a write on one worker is seen by the next request on
    the other, each time, while other requests keep the workers busy."""
    base = workers
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        busy = [pool.submit(lambda: [fresh_chat(base, "busy") for _ in range(30)]) for _ in range(3)]
        for round_number in range(6):
            key = f"watched-{round_number}"
            put = httpx.put(base + "/_emulator/limits", json={"rpm": 1}, timeout=20,
                            headers={"X-Emulator-Api-Key": key, "Connection": "close"})
            assert put.status_code == 200
            assert [fresh_chat(base, key).status_code for _ in range(3)] == [200, 429, 429]
        assert all(all(r.status_code == 200 for r in f.result()) for f in busy)
