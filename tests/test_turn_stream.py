"""A streamed turn: the emulator's SSE format (emulator/conversations/choices.py), byte for byte."""

from __future__ import annotations

import copy
import json
import time

import httpx

from emulator.conversations.choices import sse_event
from emulator.conversations.timeline import fold
from tests.conftest import KEY, TIMEOUT

UNUSED = {"reasoning": None, "tool_call": None, "document": None, "workspace": None}  # a Part's other fields


def _events(raw: bytes) -> list[dict]:
    return [json.loads(block.split(b"\ndata: ", 1)[1]) for block in raw.split(b"\n\n") if block]


def _new_thread(http) -> str:
    return http.post("/api/v3/threads", json={}).json()["id"]


def test_a_streamed_turn_is_these_bytes(on_backend, backend_http):
    httpx.post(on_backend.base_url + "/_emulator/fixtures", timeout=TIMEOUT, json={
        "match": {"operation": "turn"}, "response": {"chunks": ["Hello", " world"]}}).raise_for_status()
    thread = _new_thread(backend_http)

    response = backend_http.post(f"/api/v3/threads/{thread}/turns", json={"query": "hi", "stream": True})

    assert response.headers["content-type"].startswith("text/event-stream")
    final = backend_http.get(f"/api/v3/threads/{thread}/turns").json()["results"][0]
    started = copy.deepcopy(final)
    started["status"] = "running"
    started["messages"][1]["parts"] = []
    expected = (
        sse_event({"type": "turn.created", "turn": started})
        + sse_event({"type": "text.delta", "turn_id": final["id"], "part_index": 0, "delta": "Hello"})
        + sse_event({"type": "text.delta", "turn_id": final["id"], "part_index": 0, "delta": " world"})
        + sse_event({"type": "turn.completed", "turn": final})
    )
    assert response.content == expected
    assert response.content.startswith(b'event: turn.created\ndata: {"type":"turn.created","turn":{"id":')


def test_a_client_rebuilds_the_turn_from_the_events(backend_http):
    thread = _new_thread(backend_http)
    streamed = backend_http.post(f"/api/v3/threads/{thread}/turns", json={"query": "Tell me", "stream": True})
    events = _events(streamed.content)

    rebuilt = fold(events[1:-1])

    assert events[-1]["type"] == "turn.completed"
    assert rebuilt == events[-1]["turn"]["messages"][1]["parts"]


def test_a_streamed_turn_says_what_the_same_turn_says_unstreamed(backend_http):
    streamed = backend_http.post(f"/api/v3/threads/{_new_thread(backend_http)}/turns",
                                 json={"query": "Same words", "stream": True})
    plain = backend_http.post(
        f"/api/v3/threads/{_new_thread(backend_http)}/turns", json={"query": "Same words"}
    )

    assert (
        _events(streamed.content)[-1]["turn"]["messages"][1]["parts"] == plain.json()["messages"][1]["parts"]
    )


def test_itl_ms_paces_the_tokens(make_server):
    server = make_server(itl_ms=40)
    with httpx.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=TIMEOUT
    ) as http:
        httpx.post(server.base_url + "/_emulator/fixtures", timeout=TIMEOUT, json={
            "match": {"operation": "turn"}, "response": {"chunks": ["a", "b", "c", "d"]}}).raise_for_status()
        thread = _new_thread(http)
        arrivals = []
        with http.stream(
            "POST", f"/api/v3/threads/{thread}/turns", json={"query": "x", "stream": True}
        ) as response:
            for line in response.iter_lines():
                if line.startswith("event: text.delta"):
                    arrivals.append(time.monotonic())
    assert len(arrivals) == 4
    assert arrivals[-1] - arrivals[0] >= 0.1


def _cancelled_stream(on_backend, backend_http, duration_ms: int) -> list[str]:
    """A streamed turn whose only event is ``duration_ms`` away, cancelled on another connection
    once it has begun -> the stream's lines after its first."""
    httpx.post(on_backend.base_url + "/_emulator/fixtures", timeout=TIMEOUT, json={
        "match": {"operation": "turn"}, "response": {"content": "never said", "duration_ms": duration_ms}}
    ).raise_for_status()
    thread = _new_thread(backend_http)
    other = httpx.Client(base_url=on_backend.base_url, headers={"Authorization": f"Bearer {KEY}"},
                         timeout=TIMEOUT)
    with other, backend_http.stream("POST", f"/api/v3/threads/{thread}/turns",
                                    json={"query": "x", "stream": True}) as response:
        lines = response.iter_lines()
        assert next(lines) == "event: turn.created"
        assert other.patch(f"/api/v3/threads/{thread}", params={"cancel": "true"}).status_code == 200
        return list(lines)


def test_a_cancel_ends_the_stream_with_turn_cancelled(on_backend, backend_http):
    assert "event: turn.cancelled" in _cancelled_stream(on_backend, backend_http, 3000)


def test_a_cancel_reaches_a_stream_waiting_for_its_next_event_at_once(on_backend, backend_http):
    # The turn's only event is a minute away: the stream ends within the client's 10 s read timeout
    # only if it notices the cancel (made on another connection) while it waits.
    rest = _cancelled_stream(on_backend, backend_http, 60000)
    events = [json.loads(line[len("data: "):]) for line in rest if line.startswith("data: ")]
    assert [event["type"] for event in events] == ["turn.created", "turn.cancelled"]
    assert events[-1]["turn"]["status"] == "cancelled"


def test_a_streamed_tool_call_is_started_stepped_and_completed_before_the_answer(on_backend, backend_http):
    httpx.post(on_backend.base_url + "/_emulator/fixtures", timeout=TIMEOUT, json={
        "match": {"operation": "turn"}, "response": {
            "tool_calls": [{"name": "document_search", "arguments": {"query": "q"}, "result": "Found it."}],
            "chunks": ["It", " is", " there."]}}).raise_for_status()
    thread = _new_thread(backend_http)

    events = _events(
        backend_http.post(f"/api/v3/threads/{thread}/turns", json={"query": "q", "stream": True}).content
    )

    kinds = [e["type"] for e in events]
    assert kinds == [
        "turn.created",
        "tool_call.started",
        "tool_call.step",
        "tool_call.step",
        "tool_call.step",
        "tool_call.completed",
        "text.delta",
        "text.delta",
        "text.delta",
        "turn.completed",
    ]
    final = events[-1]["turn"]["messages"][1]["parts"]
    assert fold(events[1:-1]) == final
    assert final[0]["tool_call"]["result"]["text"] == "Found it." and final[1] == {
        "type": "text",
        "text": "It is there.",
        **UNUSED,
    }
