"""serve --upstream URL --record DIR: forwarded exchanges written as fixture files, secrets left out."""

from __future__ import annotations

import subprocess
import sys

import httpx
import yaml

from emulator.config import Settings
from emulator.server import EmulatorServer
from tests.cli_process import ROOT
from tests.upstream_support import AUTH, CHAT, KEY, recording_text, wait_for


def fixtures_of(folder):
    found = []
    for path in sorted(folder.glob("*.yaml")):
        found += yaml.safe_load(path.read_text())["fixtures"]
    return found


def test_a_recording_is_fixture_files_a_person_can_read(make_server, tmp_path):
    upstream = make_server(seed=3)
    proxy = make_server(upstream=upstream.base_url, record=tmp_path / "rec")
    sent = httpx.post(proxy.base_url + "/api/v2/chat/completions", json=CHAT, headers=AUTH)
    files = sorted(p.name for p in (tmp_path / "rec").iterdir())
    assert files == ["0001-post-api-v2-chat-completions.yaml"]
    (fixture,) = fixtures_of(tmp_path / "rec")
    assert fixture["match"]["request"] == {"method": "POST", "path": "/api/v2/chat/completions", "body": CHAT}
    raw = fixture["responses"][0]["raw"]
    assert raw["status"] == 200 and raw["headers"]["content-type"] == "application/json"
    assert raw["body"].encode() == sent.content
    # It loads as any fixture folder does.
    with EmulatorServer(Settings(fixtures_dir=tmp_path / "rec")) as replay:
        assert (
            httpx.post(replay.base_url + "/api/v2/chat/completions", json=CHAT, headers=AUTH).content
            == sent.content
        )


def test_a_stream_is_recorded_as_its_events_with_the_delay_before_each(make_server, tmp_path):
    upstream = make_server(itl_ms=15)
    proxy = make_server(upstream=upstream.base_url, record=tmp_path)
    sent = httpx.post(
        proxy.base_url + "/api/v2/chat/completions", json={**CHAT, "stream": True}, headers=AUTH
    )
    raw = fixtures_of(tmp_path)[0]["responses"][0]["raw"]
    events = raw["events"]
    assert events[-1]["data"] == "data: [DONE]"
    assert b"".join(e["data"].encode() + b"\n\n" for e in events) == sent.content
    assert sum(e["delay_ms"] for e in events) >= 15 * 4  # the upstream's pace, seen by the recorder
    assert "cut" not in raw


def test_record_ignore_leaves_a_field_out_of_matching(make_server, tmp_path):
    upstream = make_server()
    proxy = make_server(upstream=upstream.base_url, record=tmp_path, record_ignore=("user",))
    sent = httpx.post(
        proxy.base_url + "/api/v2/chat/completions", json={**CHAT, "user": "alice"}, headers=AUTH
    )
    request = fixtures_of(tmp_path)[0]["match"]["request"]
    assert "user" not in request["body"] and request["ignore"] == ["user"]
    with EmulatorServer(Settings(fixtures_dir=tmp_path, strict=True)) as replay:
        again = httpx.post(
            replay.base_url + "/api/v2/chat/completions", json={**CHAT, "user": "bob"}, headers=AUTH
        )
        assert again.content == sent.content


def test_no_secret_is_written(make_server, tmp_path):
    upstream = make_server()
    httpx.post(
        upstream.base_url + "/_emulator/fixtures",
        json={
            "match": {"operation": "models"},
            "response": {
                "headers": {"Set-Cookie": "session=cookie-secret-value", "X-Token": "header-secret-value"}
            },
        },
    ).raise_for_status()
    proxy = make_server(
        upstream=upstream.base_url,
        upstream_key="upstream-key-secret",
        record=tmp_path,
        record_redact=("x-token", "password"),
    )
    client_key = {"Authorization": f"Bearer {KEY}", "Cookie": "jar=client-cookie-secret"}
    httpx.get(proxy.base_url + "/api/v2/models", headers=client_key).raise_for_status()
    body = {**CHAT, "metadata": {"password": "body-secret-value"}}
    sent = httpx.post(proxy.base_url + "/api/v2/chat/completions", json=body, headers=client_key)
    text = recording_text(tmp_path)
    for secret in (
        KEY,
        "upstream-key-secret",
        "cookie-secret-value",
        "client-cookie-secret",
        "header-secret-value",
        "body-secret-value",
    ):
        assert secret not in text
    assert "[redacted]" in text
    # A redacted body field is left out of matching: the recording still replays.
    with EmulatorServer(Settings(fixtures_dir=tmp_path, strict=True)) as replay:
        assert (
            httpx.post(replay.base_url + "/api/v2/chat/completions", json=body, headers=AUTH).content
            == sent.content
        )


def test_a_cut_stream_keeps_what_arrived_and_is_marked_cut(make_server, tmp_path):
    upstream = make_server()
    httpx.post(
        upstream.base_url + "/_emulator/fixtures",
        json={"match": {"operation": "chat"}, "response": {"stream": {"drop_after": 3}}},
    ).raise_for_status()
    proxy = make_server(upstream=upstream.base_url, record=tmp_path)
    with httpx.Client(timeout=10) as client:
        with client.stream(
            "POST", proxy.base_url + "/api/v2/chat/completions", json={**CHAT, "stream": True}, headers=AUTH
        ) as response:
            got = b""
            try:
                for chunk in response.iter_raw():
                    got += chunk
            except httpx.RemoteProtocolError:
                pass
    raw = wait_for(lambda: fixtures_of(tmp_path))[0]["responses"][0]["raw"]
    assert raw["cut"] is True and len(raw["events"]) == 3
    with EmulatorServer(Settings(fixtures_dir=tmp_path)) as replay, httpx.Client(timeout=10) as client:
        with client.stream(
            "POST", replay.base_url + "/api/v2/chat/completions", json={**CHAT, "stream": True}, headers=AUTH
        ) as response:
            again = b""
            try:
                for chunk in response.iter_raw():
                    again += chunk
            except httpx.RemoteProtocolError:
                again += b"<cut>"
    assert again == got + b"<cut>"


def test_an_upload_its_polls_and_a_search_replay_in_order_with_the_upstreams_ids(make_server, tmp_path):
    upstream = make_server(seed=5, ingest_ms=300)
    httpx.post(
        upstream.base_url + "/api/v2/files",
        headers=AUTH,
        files={"file": ("other.txt", b"x" * 40, "text/plain")},
        data={"collection_type": "private"},
    ).raise_for_status()  # the upstream's ids are not 1, 2 ...
    proxy = make_server(upstream=upstream.base_url, record=tmp_path)
    seen = []

    def session(base: str) -> None:
        made = httpx.post(
            base + "/api/v2/files",
            headers=AUTH,
            data={"collection_type": "private"},
            files={"file": ("capital.txt", b"Paris is the capital of France. " * 30, "text/plain")},
        )
        seen.append(made.content)
        file_id = made.json()["id"]
        polls = 0
        while True:
            poll = httpx.get(base + f"/api/v2/files/{file_id}", headers=AUTH)
            seen.append(poll.content)
            polls += 1
            if poll.json().get("status", "embedded") == "embedded" or polls > 500:
                break
        seen.append(
            httpx.post(base + "/api/v2/query", headers=AUTH, json={"query": "capital of France"}).content
        )

    session(proxy.base_url)
    recorded = list(seen)
    assert b'"id":2' in recorded[0] and len(recorded) >= 4
    (upload, poll, query) = fixtures_of(tmp_path)
    assert (
        poll["match"]["request"]["path"] == "/api/v2/files/2" and len(poll["responses"]) == len(recorded) - 2
    )
    seen.clear()
    with EmulatorServer(Settings(fixtures_dir=tmp_path, strict=True)) as replay:
        session(replay.base_url)
    assert seen == recorded


def test_a_thread_its_turn_and_the_polls_replay_in_order(make_server, tmp_path):
    upstream = make_server(seed=9, turn_ms=300, turn_wait_ms=0)
    proxy = make_server(upstream=upstream.base_url, record=tmp_path)
    seen = []

    def session(base: str) -> None:
        started = httpx.post(base + "/api/v3/threads/turns", headers=AUTH, json={"query": "What is new?"})
        seen.append((started.status_code, started.content))
        thread = started.json()["thread"]
        for query in ("And then?", None):
            for _ in range(500):
                poll = httpx.get(f"{base}/api/v3/threads/{thread}/turns", headers=AUTH)
                seen.append((poll.status_code, poll.content))
                if b'"status":"running"' not in poll.content:
                    break
            if query is not None:  # a second turn in the same thread
                turn = httpx.post(
                    f"{base}/api/v3/threads/{thread}/turns", headers=AUTH, json={"query": query}
                )
                seen.append((turn.status_code, turn.content))

    session(proxy.base_url)
    recorded = list(seen)
    assert recorded[0][0] == 202 and len(recorded) >= 3
    seen.clear()
    with EmulatorServer(Settings(fixtures_dir=tmp_path, strict=True)) as replay:
        session(replay.base_url)
    assert seen == recorded


def test_a_recording_edited_into_something_invalid_stops_start_up_with_file_and_line(make_server, tmp_path):
    upstream = make_server()
    proxy = make_server(upstream=upstream.base_url, record=tmp_path)
    httpx.get(proxy.base_url + "/api/v2/models", headers=AUTH).raise_for_status()
    (path,) = tmp_path.glob("*.yaml")
    text = path.read_text()
    path.write_text(text.replace("status: 200", "status: okay"))
    line = next(n for n, row in enumerate(path.read_text().splitlines(), 1) if "status: okay" in row)
    done = subprocess.run(
        [sys.executable, "-m", "emulator", "serve", "--port", "0", "--fixtures-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert f"{path}:{line}:" in done.stderr and "raw.status" in done.stderr
