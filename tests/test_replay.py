"""serve --fixtures-dir RECORDING: the upstream's bytes again, offline, at the recorded pace."""

from __future__ import annotations

import time

import httpx
import pytest

from emulator.config import Settings
from emulator.server import EmulatorServer
from tests.upstream_support import AUTH, CHAT

STREAMED = {**CHAT, "max_tokens": 12, "stream": True}


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    """A recording of a paced upstream: a stream, a plain answer, a model list, a file."""
    folder = tmp_path_factory.mktemp("recording")
    sent = {}
    with (
        EmulatorServer(Settings(seed=11, itl_ms=30)) as upstream,
        EmulatorServer(Settings(upstream=upstream.base_url, record=folder)) as proxy,
    ):
        base = proxy.base_url
        sent["stream"] = httpx.post(base + "/api/v2/chat/completions", json=STREAMED, headers=AUTH).content
        sent["chat"] = httpx.post(base + "/api/v2/chat/completions", json=CHAT, headers=AUTH).content
        sent["models"] = httpx.get(base + "/api/v2/models", headers=AUTH).content
        made = httpx.post(
            base + "/api/v2/files",
            headers=AUTH,
            data={"collection_type": "private"},
            files={"file": ("notes.txt", b"some notes " * 10, "text/plain")},
        )
        sent["file"] = httpx.get(base + f"/api/v2/files/{made.json()['id']}", headers=AUTH).content
    return folder, sent


def timed_stream(base: str) -> tuple[bytes, float]:
    started = time.perf_counter()
    body = httpx.post(base + "/api/v2/chat/completions", json=STREAMED, headers=AUTH, timeout=30).content
    return body, time.perf_counter() - started


def test_replay_gives_the_bytes_the_upstream_gave(recording):
    folder, sent = recording
    with EmulatorServer(Settings(fixtures_dir=folder, strict=True, replay_speed=0)) as replay:
        base = replay.base_url
        assert (
            httpx.post(base + "/api/v2/chat/completions", json=STREAMED, headers=AUTH).content
            == sent["stream"]
        )
        assert httpx.post(base + "/api/v2/chat/completions", json=CHAT, headers=AUTH).content == sent["chat"]
        assert httpx.get(base + "/api/v2/models", headers=AUTH).content == sent["models"]
        entry = httpx.get(base + "/_emulator/journal").json()["requests"][0]
        assert entry["source"] == "recording" and entry["fixture"].endswith("GET /api/v2/models")


def test_streams_replay_at_the_recorded_pace_and_at_once_with_speed_0(recording):
    folder, sent = recording
    import yaml

    (path,) = [p for p in folder.glob("*.yaml") if "stream: true" in p.read_text()]
    events = yaml.safe_load(path.read_text())["fixtures"][0]["responses"][0]["raw"]["events"]
    recorded_s = sum(e["delay_ms"] for e in events) / 1000
    assert recorded_s >= 0.3  # 12 tokens at 30 ms
    with EmulatorServer(Settings(fixtures_dir=folder, replay_speed=1)) as replay:
        body, as_recorded = timed_stream(replay.base_url)
    assert body == sent["stream"]
    assert as_recorded >= 0.8 * recorded_s  # sleeps are never shorter than asked
    with EmulatorServer(Settings(fixtures_dir=folder, replay_speed=0)) as replay:
        body, at_once = timed_stream(replay.base_url)
    assert body == sent["stream"]
    assert at_once < as_recorded / 2  # wide margin: the machine may be loaded


def test_strict_names_the_nearest_recordings_of_a_request_not_recorded(recording):
    folder, _ = recording
    with EmulatorServer(Settings(fixtures_dir=folder, strict=True)) as replay:
        missed = httpx.get(replay.base_url + "/api/v2/files/999", headers=AUTH)
        assert missed.status_code == 404
        message = missed.json()["error"]["message"]
        assert "unrecorded requests are errors" in message
        assert "GET /api/v2/files/" in message and "path /api/v2/files/999 is not the recorded" in message
        other = httpx.post(
            replay.base_url + "/api/v2/chat/completions", json={**CHAT, "max_tokens": 7}, headers=AUTH
        )
        assert other.status_code == 404
        assert "body $.max_tokens is 7, recorded 6" in other.json()["error"]["message"]


def test_without_strict_an_unrecorded_request_gets_the_generated_answer(recording):
    folder, _ = recording
    with EmulatorServer(Settings(fixtures_dir=folder)) as replay:
        answer = httpx.post(
            replay.base_url + "/api/v2/chat/completions", json={**CHAT, "max_tokens": 3}, headers=AUTH
        )
        assert answer.status_code == 200 and answer.json()["usage"]["completion_tokens"] == 3


def test_a_hand_written_recorded_answer_replays_verbatim(tmp_path):
    (tmp_path / "models.yaml").write_text("""fixtures:
  - name: odd models
    match:
      operation: models
      request: {method: GET, path: /api/v2/models}
    response:
      raw:
        status: 203
        headers: {content-type: application/json, x-upstream: here}
        body: '{"data":  [] }'
""")
    with EmulatorServer(Settings(fixtures_dir=tmp_path)) as replay:
        answer = httpx.get(replay.base_url + "/api/v2/models", headers=AUTH)
    assert (answer.status_code, answer.content, answer.headers["x-upstream"]) == (
        203,
        b'{"data":  [] }',
        "here",
    )


@pytest.mark.parametrize(
    "raw, problem",
    [
        ("{status: 200, body: x, body_base64: eA==}", "give one of body, body_base64 or events"),
        ("{status: 200, events: [{delay_ms: 1}]}", "raw.events.0"),
        ("{status: 200, body_base64: '%%%'}", "not valid base64"),
    ],
)
def test_a_broken_recorded_answer_is_refused_with_its_line(tmp_path, raw, problem):
    (tmp_path / "bad.yaml").write_text(
        f"fixtures:\n  - match: {{operation: models}}\n    response:\n      raw: {raw}\n"
    )
    with pytest.raises(Exception) as refused:
        EmulatorServer(Settings(fixtures_dir=tmp_path))
    assert f"{tmp_path / 'bad.yaml'}:4" in str(refused.value) and problem in str(refused.value)


def test_a_recorded_header_that_http_cannot_carry_is_refused_at_load(tmp_path):
    (tmp_path / "bad.yaml").write_text(
        "fixtures:\n  - match: {operation: models}\n    response:\n"
        '      raw: {status: 200, headers: {"x-a": "one\\ntwo"}, body: "{}"}\n'
    )
    with pytest.raises(Exception) as refused:
        EmulatorServer(Settings(fixtures_dir=tmp_path))
    assert "not a valid HTTP header" in str(refused.value)
