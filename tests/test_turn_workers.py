"""Turns on `serve --workers 2 --redis-url`: a turn started on one worker is polled, refused a second
turn and cancelled through any worker (its status is a function of the shared clock)."""

from __future__ import annotations

import time

import httpx

from tests.test_workers import (  # noqa: F401  (fixtures)
    AUTH,
    module_workers,
    needs_redis,
    pid_of,
    workers,
)

UNUSED = {"reasoning": None, "tool_call": None, "document": None, "workspace": None}  # a Part's other fields

CLOSE = {**AUTH, "Connection": "close"}  # a fresh connection each time: the requests spread over the workers


@needs_redis
def test_a_turn_started_on_one_worker_is_seen_and_finished_by_every_worker(workers):  # noqa: F811
    base = workers
    httpx.post(
        base + "/_emulator/fixtures",
        timeout=10,
        json={"match": {"operation": "turn"}, "response": {"content": "Shared.", "duration_ms": 600}},
    ).raise_for_status()
    started = httpx.post(
        base + "/api/v3/threads/turns", json={"query": "x", "background": True}, headers=CLOSE, timeout=10
    )
    assert started.status_code == 202
    thread = started.json()["thread"]

    refused = httpx.post(
        f"{base}/api/v3/threads/{thread}/turns", json={"query": "y"}, headers=CLOSE, timeout=10
    )
    assert refused.status_code == 409
    seen: dict[int, set[str]] = {}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status = httpx.get(f"{base}/api/v3/threads/{thread}", headers=CLOSE, timeout=10).json()["status"]
        seen.setdefault(pid_of(base), set()).add(status)
        if status == "completed" and len(seen) >= 2:
            break
        time.sleep(0.01)
    assert len(seen) >= 2, "the polls did not reach two workers"
    turns = httpx.get(f"{base}/api/v3/threads/{thread}/turns", headers=CLOSE, timeout=10).json()["results"]
    assert turns[0]["messages"][1]["parts"] == [{"type": "text", "text": "Shared.", **UNUSED}]


@needs_redis
def test_a_turn_is_cancelled_through_any_worker(workers):  # noqa: F811
    base = workers
    httpx.post(base + "/_emulator/fixtures", timeout=10, json={
        "match": {"operation": "turn"}, "response": {"duration_ms": 5000}}).raise_for_status()
    thread = httpx.post(
        base + "/api/v3/threads/turns", json={"query": "x", "background": True}, headers=CLOSE, timeout=10
    ).json()["thread"]

    assert httpx.patch(f"{base}/api/v3/threads/{thread}", params={"cancel": "true"}, headers=CLOSE,
                       timeout=10).status_code == 200
    deadline = time.monotonic() + 5
    while (
        httpx.get(f"{base}/api/v3/threads/{thread}", headers=CLOSE, timeout=10).json()["status"]
        != "cancelled"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.01)


@needs_redis
def test_a_cancel_through_any_worker_ends_an_open_stream_at_once(workers):  # noqa: F811
    base = workers
    httpx.post(base + "/_emulator/fixtures", timeout=10, json={
        "match": {"operation": "turn"}, "response": {"content": "never said", "duration_ms": 60000}}
    ).raise_for_status()
    thread = httpx.post(base + "/api/v3/threads", json={}, headers=CLOSE, timeout=10).json()["id"]
    with httpx.stream("POST", f"{base}/api/v3/threads/{thread}/turns", json={"query": "x", "stream": True},
                      headers=AUTH, timeout=10) as response:
        lines = response.iter_lines()
        assert next(lines) == "event: turn.created"
        for _ in range(4):  # fresh connections: the cancel and its repeats land on any worker
            answer = httpx.patch(f"{base}/api/v3/threads/{thread}", params={"cancel": "true"}, headers=CLOSE,
                                 timeout=10)
            assert answer.status_code in (200, 400)
        rest = list(lines)  # a minute-long turn: ends within the 10 s read timeout only through the cancel
    assert "event: turn.cancelled" in rest
