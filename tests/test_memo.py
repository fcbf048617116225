"""The answer memo: a repeated request is served its kept bytes, but never in place of a fixture,
a control header or a stream."""

from __future__ import annotations

import hashlib
import tracemalloc

import httpx
from starlette.responses import Response

from emulator.memo import AnswerMemo

BODY = {"model": "alfred-4.2", "messages": [{"role": "user", "content": "Remember me"}], "max_tokens": 8}
PATH = "/api/v2/chat/completions"


def test_a_repeated_request_gets_the_same_bytes_and_is_journaled_each_time(http, emulator):
    first, second = http.post(PATH, json=BODY), http.post(PATH, json=BODY)
    assert first.content == second.content
    assert [e.status for e in emulator.journal.entries()] == [200, 200]


def test_a_fixture_added_after_a_first_answer_wins_over_the_kept_one(http, emulator):
    http.post(PATH, json=BODY)
    emulator.scripts.add(
        {"match": {"last_user_message": "Remember me"}, "response": {"content": "Scripted."}}
    )
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


def test_the_memo_is_keyed_on_a_hash_of_the_body_not_the_body(http, emulator):
    big = {**BODY, "messages": [{"role": "user", "content": "word " * 20_000}]}  # a 100 KB body
    first, second = http.post(PATH, json=big), http.post(PATH, json=big)
    assert first.content == second.content
    assert len(emulator.memo) == 1
    ((operation_id, digest),) = emulator.memo._answers
    assert operation_id == "api_v2_chat_completions_create" and len(digest) == 16
    assert emulator.memo.size < 64 * 1024  # the answer's bytes, not the request's


def test_the_memo_is_bounded_in_bytes_by_memo_mb(make_server):
    server = make_server(memo_mb=0.01)  # 10 KiB: a handful of answers
    memo = server.emulator.memo
    with httpx.Client(base_url=server.base_url, headers={"Authorization": "Bearer k"}, timeout=10) as http:
        bodies = [{**BODY, "messages": [{"role": "user", "content": f"Remember {i}"}]} for i in range(60)]
        answers = [http.post(PATH, json=body).content for body in bodies]
        assert 0 < len(memo) < 60 and memo.size <= 0.01 * 1024 * 1024
        # the newest are kept, the oldest went first; both are answered the same as before
        assert http.post(PATH, json=bodies[-1]).content == answers[-1]
        assert http.post(PATH, json=bodies[0]).content == answers[0]
    assert memo.size <= 0.01 * 1024 * 1024


def test_the_memo_holds_no_more_memory_than_memo_mb():
    """``--memo-mb`` is what the memo holds, measured: bodies, keys and the dict's slots together."""
    memo = AnswerMemo(max_mb=1)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(20_000):  # small answers, where the overhead of an entry weighs most
            memo.put(("op", hashlib.blake2b(b"%d" % i, digest_size=16).digest()),
                     Response(b'{"answer":%d}' % i + b" " * (i % 600), media_type="application/json"))
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held <= 1.1 * 1024 * 1024, f"{held:,} bytes held for a 1 MB memo"
    assert len(memo) > 1000
