"""X-Emulator-* headers: one call's behaviour forced by the client, no fixture needed."""

from __future__ import annotations

import json
import time

import httpx
import openai
import pytest
from contract import DEFAULT_VLLM_ERRORS


@pytest.fixture(autouse=True)
def clean_emulator(emulator):
    """Each test starts from a reset emulator and leaves one behind (the session server is shared)."""
    yield
    emulator.reset()


USER = [{"role": "user", "content": "Hello there"}]
CHAT = {"model": "alfred-4.2", "messages": USER}


def post_chat(http, headers, **extra):
    return http.post("/api/v2/chat/completions", json={**CHAT, **extra}, headers=headers)


def data_events(text: str) -> list[str]:
    return [block[len("data: ") :] for block in text.split("\n\n") if block.startswith("data: ")]


@pytest.mark.parametrize(
    "status, body",
    [
        pytest.param("429", {"detail": "Request was throttled."}, id="429-drf"),
        pytest.param("401", {"detail": "Invalid token."}, id="401-drf"),
        pytest.param("500", DEFAULT_VLLM_ERRORS[500], id="500-vllm"),
        pytest.param("503", DEFAULT_VLLM_ERRORS[503], id="503-vllm"),
        pytest.param("400", DEFAULT_VLLM_ERRORS[400], id="400-vllm"),
    ],
)
def test_status_forces_an_error_with_the_default_body(emulator, http, status, body):
    response = post_chat(http, {"X-Emulator-Status": status})
    assert (response.status_code, response.json()) == (int(status), body)


def test_status_comes_before_model_validation(emulator, http):
    response = http.post(
        "/api/v2/chat/completions",
        json={"model": "no-such-model", "messages": USER},
        headers={"X-Emulator-Status": "503"},
    )
    assert response.status_code == 503


def test_body_may_be_json(emulator, http):
    response = post_chat(http, {"X-Emulator-Status": "502", "X-Emulator-Body": '{"oops": true}'})
    assert (response.status_code, response.json()) == (502, {"oops": True})


def test_body_as_text_is_the_message(emulator, http):
    response = post_chat(http, {"X-Emulator-Status": "500", "X-Emulator-Body": "GPU on fire"})
    assert response.json()["error"]["message"] == "GPU on fire"


def test_retry_after_sets_both_retry_headers(emulator, http):
    response = post_chat(http, {"X-Emulator-Status": "429", "X-Emulator-Retry-After": "0.05"})
    assert (response.headers["retry-after"], response.headers["retry-after-ms"]) == ("0.05", "50")


def test_the_sdk_retries_a_forced_429_until_it_gives_up(emulator, server):
    with openai.OpenAI(
        api_key="k",
        base_url=server.v2,
        timeout=10.0,
        max_retries=2,
        default_headers={"X-Emulator-Status": "429", "X-Emulator-Retry-After": "0.01"},
    ) as c:
        with pytest.raises(openai.RateLimitError):
            c.chat.completions.create(model="alfred-4.2", messages=USER)
    assert [e.status for e in emulator.journal.entries()] == [429, 429, 429]


def test_status_works_on_any_operation(emulator, http):
    assert http.get("/api/v2/models", headers={"X-Emulator-Status": "503"}).json() == {
        "detail": "Service Unavailable."
    }
    embeddings = http.post(
        "/api/v2/embeddings",
        json={"model": "multilingual-e5-large", "input": "x"},
        headers={"X-Emulator-Status": "500"},
    )
    assert embeddings.json()["error"]["code"] == 500


def test_delay_holds_any_answer(emulator, http):
    start = time.perf_counter()
    response = http.get("/api/v2/models", headers={"X-Emulator-Delay-Ms": "120"})
    assert response.status_code == 200 and time.perf_counter() - start >= 0.11


def test_ttft_and_itl_pace_a_stream(emulator, client):
    start = time.perf_counter()
    arrivals = [
        time.perf_counter() - start
        for _ in client.chat.completions.create(
            model="alfred-4.2",
            messages=USER,
            stream=True,
            max_tokens=4,
            extra_headers={"X-Emulator-Ttft-Ms": "100", "X-Emulator-Itl-Ms": "30"},
        )
    ]
    assert arrivals[0] >= 0.09
    assert arrivals[-1] >= 0.18  # then at least three 30 ms gaps


def test_truncate_after(emulator, http):
    response = post_chat(http, {"X-Emulator-Truncate-After": "2"}, stream=True)
    sent = data_events(response.text)
    assert len(sent) == 2 and "[DONE]" not in sent


def test_error_after(emulator, http):
    sent = data_events(post_chat(http, {"X-Emulator-Error-After": "1"}, stream=True).text)
    assert json.loads(sent[1])["error"]["type"] == "InternalServerError" and sent[2:] == ["[DONE]"]


def test_drop_after_in_a_stream(emulator, client):
    with pytest.raises(openai.APIConnectionError):
        for _ in client.chat.completions.create(
            model="alfred-4.2", messages=USER, stream=True, extra_headers={"X-Emulator-Drop-After": "2"}
        ):
            pass
    assert client.models.list().data


def test_drop_after_without_a_stream(emulator, http):
    with pytest.raises(httpx.RemoteProtocolError):
        post_chat(http, {"X-Emulator-Drop-After": "0"})


def test_controls_override_a_matching_fixture(emulator, http):
    emulator.scripts.add({"response": {"content": "scripted"}})
    assert post_chat(http, {"X-Emulator-Status": "500"}).status_code == 500
    assert post_chat(http, {}).json()["choices"][0]["message"]["content"] == "scripted"


def test_controls_cut_a_scripted_stream(emulator, http):
    emulator.scripts.add({"response": {"chunks": ["a", "b", "c"]}})
    sent = data_events(post_chat(http, {"X-Emulator-Truncate-After": "3"}, stream=True).text)
    assert [json.loads(e)["choices"][0]["delta"]["content"] for e in sent] == ["", "a", "b"]


def test_without_control_headers_nothing_changes(emulator, http):
    assert post_chat(http, {"X-Other": "1"}).status_code == 200


@pytest.mark.parametrize(
    "headers, message",
    [
        pytest.param(
            {"X-Emulator-Status": "200"},
            "X-Emulator-Status: expected an HTTP error status from 400 to 599, got '200'.",
            id="status-not-an-error",
        ),
        pytest.param(
            {"X-Emulator-Status": "abc"},
            "X-Emulator-Status: expected an HTTP error status from 400 to 599, got 'abc'.",
            id="status-not-a-number",
        ),
        pytest.param(
            {"X-Emulator-Delay-Ms": "-5"},
            "X-Emulator-Delay-Ms: expected a number from 0 to 600000, got '-5'.",
            id="negative-delay",
        ),
        pytest.param(
            {"X-Emulator-Truncate-After": "1.5"},
            "X-Emulator-Truncate-After: expected a whole number >= 0, got '1.5'.",
            id="fractional-count",
        ),
        pytest.param(
            {"X-Emulator-Stauts": "429"},
            "Unknown control header X-Emulator-Stauts; known: X-Emulator-Status",
            id="misspelt-header",
        ),
        pytest.param(
            {"X-Emulator-Body": "{}"},
            "X-Emulator-Body and X-Emulator-Retry-After go with X-Emulator-Status.",
            id="body-without-status",
        ),
        pytest.param(
            {"X-Emulator-Truncate-After": "1", "X-Emulator-Drop-After": "1"},
            "Give only one of",
            id="two-faults",
        ),
    ],
)
def test_a_malformed_control_header_is_a_400_naming_it(emulator, http, headers, message):
    response = post_chat(http, headers)
    assert response.status_code == 400
    assert message in response.json()["detail"]


def test_the_journal_records_the_forced_status(emulator, http):
    post_chat(http, {"X-Emulator-Status": "418"})
    entry = emulator.journal.entries()[-1]
    assert (entry.status, entry.headers["x-emulator-status"]) == (418, "418")


def test_server_wide_ttft_paces_generated_answers(make_server):
    running = make_server(ttft_ms=150.0)
    with openai.OpenAI(api_key="k", base_url=running.v2, timeout=10.0, max_retries=0) as c:
        start = time.perf_counter()
        first = next(iter(c.chat.completions.create(model="alfred-4.2", messages=USER, stream=True)))
        assert first.choices[0].delta.role == "assistant"
        assert time.perf_counter() - start >= 0.14
