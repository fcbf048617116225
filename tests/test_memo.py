"""The answer memo: a repeated request is served its kept bytes, but never in place of a fixture,
a control header or a stream."""

from __future__ import annotations

import httpx

BODY = {"model": "alfred-4.2", "messages": [{"role": "user", "content": "Remember me"}], "max_tokens": 8}
PATH = "/api/v2/chat/completions"


def test_a_repeated_request_gets_the_same_bytes_and_is_journaled_each_time(http, emulator):
    first, second = http.post(PATH, json=BODY), http.post(PATH, json=BODY)
    assert first.content == second.content
    assert [e.status for e in emulator.journal.entries()] == [200, 200]


def test_a_fixture_added_after_a_first_answer_wins_over_the_kept_one(http, emulator):
    http.post(PATH, json=BODY)
    emulator.scripts.add({"match": {"last_user_message": "Remember me"}, "response": {"content": "Scripted."}})
    assert http.post(PATH, json=BODY).json()["choices"][0]["message"]["content"] == "Scripted."


def test_a_control_header_is_not_answered_from_the_memo(http, emulator):
    http.post(PATH, json=BODY)
    forced = http.post(PATH, json=BODY, headers={"X-Emulator-Status": "429"})
    assert forced.status_code == 429


def test_streams_are_never_kept(http, emulator):
    http.post(PATH, json={**BODY, "stream": True})
    assert emulator.memo._answers == {}


def test_a_server_with_delays_keeps_nothing(make_server):
    server = make_server(itl_ms=1)
    with httpx.Client(base_url=server.base_url, headers={"Authorization": "Bearer k"}, timeout=10) as http:
        first, second = http.post(PATH, json=BODY), http.post(PATH, json=BODY)
    assert first.content == second.content and server.emulator.memo._answers == {}
