"""The request pipeline seen from outside: the journal is written when the body has ended (with the
real duration and how it ended), and a stage added to the pipeline's list changes every request."""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest
from conftest import KEY, TIMEOUT
from starlette.responses import Response

from emulator.call import Call
from emulator.pipeline import RATE_LIMITS_AFTER, Step

CHAT = "/api/v2/chat/completions"
DEADLINE_S = 10.0


def story(tokens: int = 8, **extra) -> dict:
    return {"model": "alfred-4.2", "messages": [{"role": "user", "content": "Tell me a story"}],
            "max_tokens": tokens, "ignore_eos": True, **extra}


def journal(base_url: str) -> list[dict]:
    response = httpx.get(base_url + "/_emulator/journal", params={"operation": "chat"}, timeout=TIMEOUT)
    response.raise_for_status()
    return response.json()["requests"]


def wait_for_entry(base_url: str) -> dict:
    """The newest chat entry, polled for: a journal entry lands when the body has ended."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        found = journal(base_url)
        if found:
            return found[0]
        time.sleep(0.01)
    raise AssertionError(f"no journal entry within {DEADLINE_S} s")


def test_a_normal_stream_is_journaled_complete(http, emulator, server):
    with http.stream("POST", CHAT, json=story(stream=True)) as response:
        text = "".join(response.iter_text())
    assert text.endswith("data: [DONE]\n\n")
    entry = wait_for_entry(server.base_url)
    assert (entry["status"], entry["outcome"]) == (200, "complete")


def test_a_plain_answer_and_an_error_are_journaled_complete(http, emulator, server):
    assert http.post(CHAT, json=story()).status_code == 200
    assert http.post(CHAT, json=story(), headers={"X-Emulator-Status": "429"}).status_code == 429
    entries = journal(server.base_url)
    assert [(e["status"], e["outcome"]) for e in entries] == [(429, "complete"), (200, "complete")]


@pytest.mark.parametrize("header", ["X-Emulator-Truncate-After", "X-Emulator-Error-After"])
def test_a_stream_cut_by_a_fault_is_journaled_truncated(http, emulator, server, header):
    with http.stream("POST", CHAT, json=story(stream=True), headers={header: "3"}) as response:
        events = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert len(events) <= 5
    entry = wait_for_entry(server.base_url)
    assert (entry["status"], entry["outcome"]) == (200, "truncated")


def test_a_drop_fault_is_journaled_dropped(http, emulator, server):
    with pytest.raises(httpx.HTTPError):
        with http.stream("POST", CHAT, json=story(stream=True), headers={"X-Emulator-Drop-After": "2"}) as r:
            for _ in r.iter_bytes():
                pass
    assert wait_for_entry(server.base_url)["outcome"] == "dropped"


def _raw_stream_request(port: int, body: dict, headers: dict[str, str]) -> socket.socket:
    raw = json.dumps(body).encode()
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    sock = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE_S)
    sock.sendall(f"POST {CHAT} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {KEY}\r\n"
                 f"Content-Type: application/json\r\nContent-Length: {len(raw)}\r\n{head}\r\n".encode() + raw)
    return sock


def _read_until(sock: socket.socket, marker: bytes, count: int) -> bytes:
    seen = b""
    while seen.count(marker) < count:
        chunk = sock.recv(65536)
        assert chunk, f"the server closed the stream early: {seen!r}"
        seen += chunk
    return seen


@pytest.mark.timing
def test_a_stream_the_client_drops_is_journaled_dropped_with_its_real_duration(emulator, server) -> None:
    # 400 tokens 50 ms apart: twenty seconds if read to the end; the client leaves after three events,
    # which are at least one paced gap apart (a bound of the server's own pace, not of this clock).
    sock = _raw_stream_request(server.port, story(400, stream=True), {"X-Emulator-Itl-Ms": "50"})
    _read_until(sock, b"data: ", 3)
    sock.close()
    entry = wait_for_entry(server.base_url)
    assert entry["outcome"] == "dropped"
    assert 50 * 0.9 <= entry["duration_ms"] < 10_000  # it ended when the client went, not at 20 s


@pytest.mark.timing
def test_a_slow_stream_is_journaled_only_after_its_last_byte(emulator, server) -> None:
    sock = _raw_stream_request(server.port, story(10, stream=True), {"X-Emulator-Itl-Ms": "60"})
    started = time.monotonic()
    try:
        _read_until(sock, b"data: ", 2)
        assert journal(server.base_url) == []  # the body has not ended: nothing journaled yet
        _read_until(sock, b"data: [DONE]", 1)
        read_ms = (time.monotonic() - started) * 1000
    finally:
        sock.close()
    entry = wait_for_entry(server.base_url)
    assert entry["outcome"] == "complete"
    assert entry["duration_ms"] >= 9 * 60 * 0.9  # the whole paced body, not the time to build the response
    assert entry["duration_ms"] <= read_ms + 500


def test_a_stage_inserted_into_the_pipeline_changes_every_request(make_server):
    running = make_server()
    seen: list[str] = []

    async def teapot(call: Call) -> Response | None:
        seen.append(call.operation.operation_id)
        if call.headers.get("x-test-teapot"):
            return Response(b'{"detail": "I am a teapot."}', status_code=418, media_type="application/json")
        return None

    running.emulator.pipeline.insert(Step("teapot", teapot), after=RATE_LIMITS_AFTER)
    assert [s.name for s in running.emulator.pipeline.steps] == [
        "observe", "validate", "identify", "controls", "teapot", "limits", "match", "deliver"]
    with httpx.Client(base_url=running.base_url, headers={"Authorization": f"Bearer {KEY}"},
                      timeout=TIMEOUT) as http:
        assert http.get("/api/v2/models", headers={"X-Test-Teapot": "1"}).status_code == 418
        assert http.post(CHAT, json=story(), headers={"X-Test-Teapot": "1"}).status_code == 418
        assert http.post(CHAT, json=story()).status_code == 200
        assert seen == ["api_v2_models_list", *["api_v2_chat_completions_create"] * 2]
        # After the control headers: a forced status answers before the new stage is reached.
        assert http.get("/api/v2/models", headers={"X-Emulator-Status": "503"}).status_code == 503
        assert len(seen) == 3
        running.emulator.pipeline.remove("teapot")
        assert http.get("/api/v2/models", headers={"X-Test-Teapot": "1"}).status_code == 200
    assert len(seen) == 3
    statuses = [e["status"] for e in journal_all(running.base_url)]
    assert statuses == [200, 503, 200, 418, 418]  # answered by a stage or not, every request is journaled


def journal_all(base_url: str) -> list[dict]:
    return httpx.get(base_url + "/_emulator/journal", timeout=TIMEOUT).json()["requests"]


def test_inserting_a_stage_needs_a_known_anchor(make_server):
    pipeline = make_server().emulator.pipeline
    with pytest.raises(ValueError, match="observe, validate, identify, controls, limits, match, deliver"):
        pipeline.insert(Step("x", lambda call: None), after="nowhere")
