"""Every kind of scripted response, as a client sees it over HTTP (raw and through the openai SDK)."""

from __future__ import annotations

import json
import time

import openai
import pytest
from contract import DEFAULT_VLLM_ERRORS


@pytest.fixture(autouse=True)
def clean_emulator(emulator):
    """Each test starts from a reset emulator and leaves one behind (the session server is shared)."""
    yield
    emulator.reset()


USER = [{"role": "user", "content": "Hello there"}]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]


def post_chat(http, headers=None, **extra):
    return http.post(
        "/api/v2/chat/completions", json={"model": "alfred-4.2", "messages": USER, **extra}, headers=headers
    )


def sse_events(response) -> list:
    """The data of each SSE event: dicts, and the string "[DONE]"."""
    events = []
    for block in response.text.split("\n\n"):
        if block.startswith("data: "):
            data = block[len("data: ") :]
            events.append(data if data == "[DONE]" else json.loads(data))
    return events


def test_content_is_the_answer(emulator, http):
    emulator.scripts.add({"response": {"content": "Exactly this."}})
    body = post_chat(http).json()
    assert body["choices"][0]["message"]["content"] == "Exactly this."
    assert body["choices"][0]["finish_reason"] == "stop"


def test_content_is_counted_by_the_tokenizer(emulator, http):
    emulator.scripts.add({"response": {"content": "Exactly this."}})
    assert post_chat(http).json()["usage"]["completion_tokens"] == 3  # "Exactly", " this", "."


@pytest.mark.parametrize(
    "template, expected",
    [
        pytest.param("You said: {{last_user_message}}", "You said: Hello there", id="last-user-message"),
        pytest.param("{{ model }}", "alfred-4.2", id="model"),
        pytest.param("{{body.metadata.ticket}}/{{body.messages.0.role}}", "T-1/user", id="body-path"),
        pytest.param("{{body.metadata}}", '{"ticket": "T-1"}', id="body-object-as-json"),
        pytest.param("[{{body.absent.path}}]", "[]", id="absent-is-empty"),
    ],
)
def test_content_templates_quote_the_request(emulator, http, template, expected):
    emulator.scripts.add({"response": {"content": template}})
    body = post_chat(http, metadata={"ticket": "T-1"}).json()
    assert body["choices"][0]["message"]["content"] == expected


def test_chunks_are_the_exact_stream_deltas(emulator, http):
    emulator.scripts.add({"response": {"chunks": ["Hel", "lo", " {{model}}"]}})
    events = sse_events(post_chat(http, stream=True))
    deltas = [e["choices"][0]["delta"].get("content") for e in events[:-1]]
    assert deltas == ["", "Hel", "lo", " alfred-4.2"]
    assert events[-2]["choices"][0]["finish_reason"] == "stop" and events[-1] == "[DONE]"


def test_chunks_joined_are_the_content_when_not_streamed(emulator, http):
    emulator.scripts.add({"response": {"chunks": ["Hel", "lo"]}})
    assert post_chat(http).json()["choices"][0]["message"]["content"] == "Hello"


def test_chunk_delays_pace_each_event(emulator, client):
    emulator.scripts.add({"response": {"chunks": ["a", "b", "c"], "chunk_delays_ms": [0, 0, 150, 0]}})
    arrivals = []
    start = time.perf_counter()
    for chunk in client.chat.completions.create(model="alfred-4.2", messages=USER, stream=True):
        arrivals.append((chunk.choices[0].delta.content, time.perf_counter() - start))
    # Lower bounds from the start only: a busy client may read several events at once, never early.
    assert [c for c, _ in arrivals] == ["", "a", "b", "c"]
    assert arrivals[2][1] >= 0.14  # "b" waited its 150 ms


def test_chunk_delays_add_up_when_not_streamed(emulator, http):
    emulator.scripts.add({"response": {"content": "x", "chunk_delays_ms": [60, 60]}})
    start = time.perf_counter()
    post_chat(http)
    assert time.perf_counter() - start >= 0.11


def test_tool_calls_come_back_through_the_sdk(emulator, client):
    emulator.scripts.add(
        {
            "response": {
                "tool_calls": [
                    {"name": "get_weather", "arguments": {"city": "Paris"}},
                    {"name": "get_time", "arguments": '{"tz": "CET"}', "id": "call_fixed"},
                ]
            }
        }
    )
    response = client.chat.completions.create(model="alfred-4.2", messages=USER, tools=TOOLS)
    message = response.choices[0].message
    assert response.choices[0].finish_reason == "tool_calls"
    assert message.content is None
    assert [(c.function.name, json.loads(c.function.arguments)) for c in message.tool_calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_time", {"tz": "CET"}),
    ]
    assert message.tool_calls[0].id.startswith("chatcmpl-tool-") and message.tool_calls[1].id == "call_fixed"


def test_tool_call_ids_are_deterministic(emulator, http):
    emulator.scripts.add({"response": {"tool_calls": [{"name": "f", "arguments": {}}]}})
    first = post_chat(http).json()["choices"][0]["message"]["tool_calls"][0]["id"]
    emulator.reset()
    emulator.scripts.add({"response": {"tool_calls": [{"name": "f", "arguments": {}}]}})
    assert post_chat(http).json()["choices"][0]["message"]["tool_calls"][0]["id"] == first


def test_tool_call_arguments_may_be_templated_and_even_broken(emulator, http):
    emulator.scripts.add(
        {
            "response": {
                "tool_calls": [
                    {"name": "echo", "arguments": {"said": "{{last_user_message}}"}},
                    {"name": "broken", "arguments": '{"city": '},
                ]
            }
        }
    )
    calls = post_chat(http).json()["choices"][0]["message"]["tool_calls"]
    assert json.loads(calls[0]["function"]["arguments"]) == {"said": "Hello there"}
    assert calls[1]["function"]["arguments"] == '{"city": '


def test_streamed_tool_calls_accumulate_in_the_sdk(emulator, client):
    emulator.scripts.add(
        {"response": {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}}
    )
    name, arguments, finish = "", "", None
    for chunk in client.chat.completions.create(model="alfred-4.2", messages=USER, tools=TOOLS, stream=True):
        for delta in chunk.choices[0].delta.tool_calls or ():
            name += delta.function.name or ""
            arguments += delta.function.arguments or ""
        finish = chunk.choices[0].finish_reason or finish
    assert (name, json.loads(arguments), finish) == ("get_weather", {"city": "Paris"}, "tool_calls")


def test_finish_reason_overrides(emulator, http):
    emulator.scripts.add({"response": {"content": "cut", "finish_reason": "length"}})
    assert post_chat(http).json()["choices"][0]["finish_reason"] == "length"


def test_finish_reason_applies_to_generated_text_too(emulator, http):
    emulator.scripts.add({"response": {"finish_reason": "length"}})
    choice = post_chat(http).json()["choices"][0]
    assert choice["finish_reason"] == "length" and choice["message"]["content"]


def test_usage_overrides_and_fills_the_rest(emulator, http):
    emulator.scripts.add({"response": {"content": "Exactly this.", "usage": {"prompt_tokens": 100}}})
    assert post_chat(http).json()["usage"] == {
        "prompt_tokens": 100,
        "completion_tokens": 3,
        "total_tokens": 103,
    }


def test_usage_chunk_of_a_stream_is_the_scripted_one(emulator, http):
    usage = {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
    emulator.scripts.add({"response": {"content": "x", "usage": usage}})
    events = sse_events(post_chat(http, stream=True, stream_options={"include_usage": True}))
    assert events[-2]["usage"] == usage


def test_headers_are_added_to_the_response(emulator, http):
    emulator.scripts.add({"response": {"content": "x", "headers": {"X-Scripted": "yes", "X-Count": 3}}})
    response = post_chat(http)
    assert (response.headers["x-scripted"], response.headers["x-count"]) == ("yes", "3")
    assert post_chat(http, stream=True).headers["x-scripted"] == "yes"


def test_delay_ms_holds_the_answer(emulator, http):
    emulator.scripts.add({"response": {"content": "x", "delay_ms": 150}})
    start = time.perf_counter()
    post_chat(http)
    assert time.perf_counter() - start >= 0.14


def test_ttft_and_itl_pace_a_stream(emulator, client):
    emulator.scripts.add({"response": {"chunks": ["a", "b", "c"], "ttft_ms": 120, "itl_ms": 40}})
    start = time.perf_counter()
    times = [
        time.perf_counter() - start
        for _ in client.chat.completions.create(model="alfred-4.2", messages=USER, stream=True)
    ]
    assert times[0] >= 0.11
    assert times[-1] >= 0.23  # then three inter-token gaps of 40 ms


def test_no_content_keeps_the_generated_text(emulator, http):
    generated = post_chat(http).json()["choices"][0]["message"]["content"]
    emulator.scripts.add({"response": {"headers": {"X-Seen": "1"}}})
    response = post_chat(http)
    assert response.json()["choices"][0]["message"]["content"] == generated
    assert response.headers["x-seen"] == "1"


def test_n_choices_all_get_the_scripted_content(emulator, http):
    emulator.scripts.add({"response": {"content": "same"}})
    choices = post_chat(http, n=3).json()["choices"]
    assert [(c["index"], c["message"]["content"]) for c in choices] == [(0, "same"), (1, "same"), (2, "same")]


def test_completions_get_scripted_text(emulator, http):
    emulator.scripts.add({"match": {"operation": "completions"}, "response": {"content": " the end"}})
    body = http.post("/api/v2/completions", json={"model": "alfred-4.2", "prompt": "This is"}).json()
    assert body["choices"][0]["text"] == " the end"


def test_embeddings_return_the_scripted_vectors(emulator, client):
    emulator.scripts.add(
        {"match": {"operation": "embeddings"}, "response": {"embeddings": [[0.6, 0.8], [1, 0]]}}
    )
    response = client.embeddings.create(model="multilingual-e5-large", input=["a", "b"])
    # The SDK asks for base64 (float32), hence approx.
    assert [d.embedding for d in response.data] == [pytest.approx([0.6, 0.8]), [1.0, 0.0]]


def test_embeddings_fixture_without_vectors_keeps_generated_ones_and_adds_headers(emulator, http):
    body = {"model": "multilingual-e5-large", "input": "text"}
    generated = http.post("/api/v2/embeddings", json=body).json()["data"]
    emulator.scripts.add(
        {"match": {"operation": "embeddings"}, "response": {"headers": {"X-E": "1"}, "delay_ms": 60}}
    )
    start = time.perf_counter()
    response = http.post("/api/v2/embeddings", json=body)
    assert time.perf_counter() - start >= 0.055
    assert response.json()["data"] == generated and response.headers["x-e"] == "1"


@pytest.mark.parametrize(
    "status, shape",
    [
        *(pytest.param(status, body, id=f"{status}-vllm") for status, body in DEFAULT_VLLM_ERRORS.items()),
        pytest.param(401, {"detail": "Invalid token."}, id="401-drf"),
        pytest.param(429, {"detail": "Request was throttled."}, id="429-drf"),
    ],
)
def test_error_gets_the_body_the_real_stack_sends(emulator, http, status, shape):
    emulator.scripts.add({"response": {"error": {"status": status}}})
    response = post_chat(http)
    assert (response.status_code, response.json()) == (status, shape)


def test_error_with_a_body_and_headers_of_its_own(emulator, http):
    emulator.scripts.add(
        {
            "response": {
                "headers": {"X-A": "1"},
                "error": {"status": 418, "body": {"anything": ["goes"]}, "headers": {"Retry-After": "3"}},
            }
        }
    )
    response = post_chat(http)
    assert (response.status_code, response.json()) == (418, {"anything": ["goes"]})
    assert (response.headers["x-a"], response.headers["retry-after"]) == ("1", "3")


def test_error_429_body_says_when_to_come_back(emulator, http):
    emulator.scripts.add({"response": {"error": {"status": 429, "headers": {"Retry-After": "2"}}}})
    assert post_chat(http).json() == {"detail": "Request was throttled. Expected available in 2 seconds."}


def test_error_reaches_the_sdk_as_its_exception(emulator, client):
    emulator.scripts.add({"response": {"error": {"status": 500}}})
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="alfred-4.2", messages=USER)
    assert caught.value.body["type"] == "InternalServerError"


def test_a_fixture_naming_another_operation_can_fail_it(emulator, http):
    emulator.scripts.add({"match": {"operation": "models"}, "response": {"error": {"status": 503}}})
    response = http.get("/api/v2/models")
    assert (response.status_code, response.json()) == (503, {"detail": "Service Unavailable."})


def test_a_fixture_naming_another_operation_can_add_headers(emulator, http):
    emulator.scripts.add(
        {
            "name": "tag-models",
            "match": {"operation": "/api/v2/models"},
            "response": {"headers": {"X-Tagged": "yes"}},
        }
    )
    response = http.get("/api/v2/models")
    assert response.status_code == 200 and response.headers["x-tagged"] == "yes"
    assert emulator.journal.entries()[-1].fixture == "tag-models"
