"""An id is never handed out twice, even when a Redis without persistence restarts and loses the data."""

from __future__ import annotations

import signal
import time

import httpx

from tests.cli_process import start_cli
from tests.conftest import KEY
from tests.redis_process import redis_process  # noqa: F401 - the fixture

AUTH = {"Authorization": f"Bearer {KEY}"}


def _upload(client: httpx.Client, base: str, name: str) -> int:
    response = client.post(base + "/api/v2/files", files={"file": (name, f"the text of {name}".encode())})
    assert response.status_code in (200, 201), response.text
    return response.json()["id"]


def _until_redis_answers(client: httpx.Client, base: str) -> None:
    deadline = time.monotonic() + 20
    while client.get(base + "/api/v2/files").status_code != 200:
        assert time.monotonic() < deadline, "the emulator did not reach the restarted Redis"
        time.sleep(0.1)


def test_after_redis_loses_the_data_old_ids_answer_404_and_new_ones_go_past_them(redis_process):  # noqa: F811
    process, base = start_cli("--redis-url", redis_process.url)
    try:
        with httpx.Client(timeout=10, headers=AUTH) as client:
            old = [_upload(client, base, f"before-{n}.txt") for n in range(5)]
            assert old == [1, 2, 3, 4, 5]  # a fresh Redis: ids as deterministic as ever
            thread = client.post(base + "/api/v3/threads", json={}).json()
            redis_process.restart()  # no persistence: every key is gone, the counters too
            _until_redis_answers(client, base)
            new = [_upload(client, base, f"after-{n}.txt") for n in range(3)]
            assert min(new) > max(old)
            for file_id in old:
                assert client.get(f"{base}/api/v2/files/{file_id}").status_code == 404, file_id
            assert client.get(f"{base}/api/v2/files/{new[0]}").json()["filename"] == "after-0.txt"
            another = client.post(base + "/api/v3/threads", json={}).json()
            assert another["id"] != thread["id"] and another["created_at"] > thread["created_at"]
            assert client.get(f"{base}/api/v3/threads/{thread['id']}").status_code == 404
            entries = client.get(base + "/_emulator/journal").json()["requests"]
            assert entries[-1]["seq"] > 1000  # the journal's numbering went on past the lost one too
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert err.count("has lost the emulator's data") == 1, err  # said once, in plain words
    assert "an old id answers 404" in err


def test_a_reset_still_starts_every_sequence_again(redis_process):  # noqa: F811
    process, base = start_cli("--redis-url", redis_process.url)
    try:
        with httpx.Client(timeout=10, headers=AUTH) as client:
            assert [_upload(client, base, f"f{n}.txt") for n in range(3)] == [1, 2, 3]
            assert httpx.post(base + "/_emulator/reset", timeout=10).status_code in (200, 204)
            assert _upload(client, base, "again.txt") == 1
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert "lost the emulator's data" not in err


def test_a_worker_forgets_the_ids_it_gave_when_the_marker_changes() -> None:
    """What one worker remembers binds the floor only until a reset or a loss writes a new marker."""
    from emulator.state.redis_ids import Sequences

    ids = Sequences("redis://example")
    ids.seen(0, b"0:start")
    ids.given("files", 7)
    ids.given("threads", 3)
    ids.given("files", 5)
    assert (ids.highest, ids.top()) == ({"files": 7, "threads": 3}, 7)
    ids.seen(0, "0:start")  # the same marker, as bytes or text: nothing is forgotten
    assert ids.top() == 7
    ids.seen(0, b"0:reset-1")
    assert (ids.highest, ids.top(), ids.token) == ({}, 0, "0:reset-1")
