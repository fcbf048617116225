"""Scripted faults, each as the raw bytes show it and as the openai SDK sees it."""

from __future__ import annotations

import json
import logging

import httpx
import openai
import pytest


@pytest.fixture(autouse=True)
def clean_emulator(emulator):
    """Each test starts from a reset emulator and leaves one behind (the session server is shared)."""
    yield
    emulator.reset()


USER = [{"role": "user", "content": "Hello there"}]
CHAT = {"model": "alfred-4.2", "messages": USER, "stream": True}


def events(text: str) -> list:
    return [block[len("data: ") :] for block in text.split("\n\n") if block.startswith("data: ")]


def stream_content(client, **extra) -> list[str]:
    return [
        chunk.choices[0].delta.content or ""
        for chunk in client.chat.completions.create(model="alfred-4.2", messages=USER, stream=True, **extra)
        if chunk.choices
    ]


def test_truncate_after_ends_the_body_cleanly_without_done(emulator, http):
    emulator.scripts.add(
        {"response": {"content": "one two three four five", "stream": {"truncate_after": 3}}}
    )
    response = http.post("/api/v2/chat/completions", json=CHAT)
    sent = events(response.text)
    assert response.status_code == 200
    assert len(sent) == 3 and "[DONE]" not in sent
    assert all(json.loads(e)["choices"][0]["finish_reason"] is None for e in sent)


def test_truncated_stream_ends_quietly_in_the_sdk(emulator, client):
    emulator.scripts.add(
        {"response": {"content": "one two three four five", "stream": {"truncate_after": 3}}}
    )
    assert stream_content(client) == ["", "one", " two"]


def test_error_after_sends_an_error_event_then_done(emulator, http):
    emulator.scripts.add({"response": {"content": "one two three", "stream": {"error_after": 2}}})
    sent = events(http.post("/api/v2/chat/completions", json=CHAT).text)
    assert len(sent) == 4 and sent[-1] == "[DONE]"
    assert json.loads(sent[2]) == {
        "error": {
            "message": "The model server failed while generating.",
            "type": "InternalServerError",
            "param": None,
            "code": 500,
        }
    }


def test_error_event_raises_in_the_sdk_with_the_scripted_message(emulator, client):
    error = {"message": "CUDA out of memory", "type": "InternalServerError", "param": None, "code": 500}
    emulator.scripts.add(
        {"response": {"content": "one two three", "stream": {"error_after": 2, "error": error}}}
    )
    seen = []
    with pytest.raises(openai.APIError, match="CUDA out of memory") as caught:
        for chunk in client.chat.completions.create(model="alfred-4.2", messages=USER, stream=True):
            seen.append(chunk.choices[0].delta.content)
    assert seen == ["", "one"]
    assert caught.value.body == error


def test_drop_after_breaks_the_connection(emulator, http):
    emulator.scripts.add({"response": {"content": "one two three four", "stream": {"drop_after": 2}}})
    received = []
    with pytest.raises(httpx.RemoteProtocolError):
        with http.stream("POST", "/api/v2/chat/completions", json=CHAT) as response:
            for line in response.iter_lines():
                received.append(line)
    assert len([line for line in received if line.startswith("data: ")]) == 2


def test_dropped_stream_is_a_connection_error_in_the_sdk_and_the_server_goes_on(emulator, client):
    emulator.scripts.add({"name": "drop", "times": 1, "response": {"stream": {"drop_after": 1}}})
    with pytest.raises(openai.APIConnectionError):
        stream_content(client)
    assert client.chat.completions.create(model="alfred-4.2", messages=USER).choices[0].message.content


def test_drop_without_stream_breaks_the_response_at_once(emulator, client):
    emulator.scripts.add({"times": 1, "response": {"stream": {"drop_after": 0}}})
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model="alfred-4.2", messages=USER)
    assert client.models.list().data


def test_drop_leaves_no_traceback_in_the_server_log(emulator, client):
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("uvicorn.error")
    logger.addHandler(handler)
    try:
        emulator.scripts.add({"times": 1, "response": {"stream": {"drop_after": 1}}})
        with pytest.raises(openai.APIConnectionError):
            stream_content(client)
        client.models.list()  # the server has finished with the dropped request by then
    finally:
        logger.removeHandler(handler)
    assert [r for r in records if r.exc_info] == []


def test_a_429_then_success_is_retried_by_the_sdk(emulator, server):
    emulator.scripts.add(
        {
            "name": "rate-limited",
            "responses": [
                {"error": {"status": 429, "headers": {"retry-after-ms": "20"}}},
                {"content": "Thanks for waiting."},
            ],
        }
    )
    with openai.OpenAI(api_key="k", base_url=server.v2, timeout=10.0) as retrying:  # default max_retries=2
        response = retrying.chat.completions.create(model="alfred-4.2", messages=USER)
    assert response.choices[0].message.content == "Thanks for waiting."
    calls = [(e.status, e.fixture) for e in emulator.journal.entries()]
    assert calls == [(429, "rate-limited"), (200, "rate-limited")]


def test_a_429_without_retries_is_a_rate_limit_error(emulator, client):
    emulator.scripts.add({"response": {"error": {"status": 429, "headers": {"Retry-After": "1"}}}})
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="alfred-4.2", messages=USER)
    assert caught.value.response.headers["retry-after"] == "1"


def test_errors_until_the_sdk_gives_up(emulator, server):
    emulator.scripts.add({"response": {"error": {"status": 503, "headers": {"retry-after-ms": "5"}}}})
    with openai.OpenAI(api_key="k", base_url=server.v2, timeout=10.0, max_retries=2) as retrying:
        with pytest.raises(openai.InternalServerError):
            retrying.chat.completions.create(model="alfred-4.2", messages=USER)
    assert [e.status for e in emulator.journal.entries()] == [503, 503, 503]


def test_faults_apply_to_completions_streams(emulator, http):
    emulator.scripts.add(
        {
            "match": {"operation": "completions"},
            "response": {"content": " a b c d", "stream": {"truncate_after": 2}},
        }
    )
    response = http.post("/api/v2/completions", json={"model": "alfred-4.2", "prompt": "x", "stream": True})
    assert [json.loads(e)["choices"][0]["text"] for e in events(response.text)] == [" a", " b"]
