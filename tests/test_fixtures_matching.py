"""Fixture matching through real HTTP: every condition, the order rules, times and sequences, strict mode."""

from __future__ import annotations

import threading

import httpx
import pytest


@pytest.fixture(autouse=True)
def clean_emulator(emulator):
    """Each test starts from a reset emulator and leaves one behind (the session server is shared)."""
    yield
    emulator.reset()


MATCHED = "MATCHED"
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
USER = [{"role": "user", "content": "Hello there"}]
ASSISTANT_CALL = {
    "role": "assistant",
    "content": None,
    "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
    ],
}


def chat_body(messages=USER, **extra):
    return {"model": "alfred-4.2", "messages": messages, **extra}


def chat(http, content, headers=None, **extra):
    return http.post(
        "/api/v2/chat/completions",
        json=chat_body([{"role": "user", "content": content}], **extra),
        headers=headers,
    )


def chat_text(http, content, **kwargs) -> str:
    response = chat(http, content, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()["choices"][0]["message"]["content"]


CASES = [
    pytest.param(
        {"operation": "chat"},
        ("/api/v2/chat/completions", chat_body()),
        ("/api/v2/completions", {"model": "alfred-4.2", "prompt": "Hello there"}),
        id="operation-alias",
    ),
    pytest.param(
        {"operation": "/api/v3/chat/completions"},
        ("/api/v3/chat/completions", chat_body()),
        ("/api/v2/chat/completions", chat_body()),
        id="operation-path",
    ),
    pytest.param(
        {"operation": "api_v2_chat_completions_create"},
        ("/api/v2/chat/completions", chat_body()),
        ("/api/v3/chat/completions", chat_body()),
        id="operation-id",
    ),
    pytest.param(
        {"model": "alfred-4"},
        ("/api/v2/chat/completions", {**chat_body(), "model": "alfred-4"}),
        ("/api/v2/chat/completions", chat_body()),
        id="model-equals",
    ),
    pytest.param(
        {"model": {"regex": r"^alfred-4$"}},
        ("/api/v2/chat/completions", {**chat_body(), "model": "alfred-4"}),
        ("/api/v2/chat/completions", chat_body()),
        id="model-regex",
    ),
    pytest.param(
        {"last_user_message": "Hello there"},
        ("/api/v2/chat/completions", chat_body()),
        ("/api/v2/chat/completions", chat_body([{"role": "user", "content": "Hello"}])),
        id="last-user-equals",
    ),
    pytest.param(
        {"last_user_message": {"contains": "weather"}},
        ("/api/v2/chat/completions", chat_body([{"role": "user", "content": "Is the weather nice?"}])),
        ("/api/v2/chat/completions", chat_body([{"role": "user", "content": "Is the Weather nice?"}])),
        id="last-user-contains-case-sensitive",
    ),
    pytest.param(
        {"last_user_message": {"regex": r"\d{4}"}},
        ("/api/v2/chat/completions", chat_body([{"role": "user", "content": "in 2024?"}])),
        ("/api/v2/chat/completions", chat_body([{"role": "user", "content": "in 24?"}])),
        id="last-user-regex",
    ),
    pytest.param(
        {"last_user_message": {"contains": "first"}},
        (
            "/api/v2/chat/completions",
            chat_body([{"role": "user", "content": "second"}, {"role": "user", "content": "first"}]),
        ),
        (
            "/api/v2/chat/completions",
            chat_body([{"role": "user", "content": "first"}, {"role": "user", "content": "second"}]),
        ),
        id="last-user-is-the-last",
    ),
    pytest.param(
        {"last_user_message": "part one\npart two"},
        (
            "/api/v2/chat/completions",
            chat_body(
                [
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "part one"},
                            {"type": "text", "text": "part two"},
                        ],
                    }
                ]
            ),
        ),
        ("/api/v2/chat/completions", chat_body()),
        id="last-user-content-parts",
    ),
    pytest.param(
        {"any_message": {"contains": "secret"}},
        (
            "/api/v2/chat/completions",
            chat_body(
                [
                    {"role": "user", "content": "the secret"},
                    {"role": "assistant", "content": "ok"},
                    {"role": "user", "content": "go on"},
                ]
            ),
        ),
        ("/api/v2/chat/completions", chat_body()),
        id="any-message",
    ),
    pytest.param(
        {"system_message": {"contains": "pirate"}},
        (
            "/api/v2/chat/completions",
            chat_body([{"role": "system", "content": "Talk like a pirate."}, *USER]),
        ),
        ("/api/v2/chat/completions", chat_body([{"role": "user", "content": "pirate"}])),
        id="system-message",
    ),
    pytest.param(
        {"tool_result": True},
        (
            "/api/v2/chat/completions",
            chat_body([*USER, ASSISTANT_CALL, {"role": "tool", "tool_call_id": "call_1", "content": "9"}]),
        ),
        ("/api/v2/chat/completions", chat_body()),
        id="tool-result-true",
    ),
    pytest.param(
        {"tool_result": False},
        ("/api/v2/chat/completions", chat_body()),
        (
            "/api/v2/chat/completions",
            chat_body([*USER, ASSISTANT_CALL, {"role": "tool", "tool_call_id": "call_1", "content": "9"}]),
        ),
        id="tool-result-false",
    ),
    pytest.param(
        {"tool_call_id": "call_1"},
        (
            "/api/v2/chat/completions",
            chat_body([*USER, ASSISTANT_CALL, {"role": "tool", "tool_call_id": "call_1", "content": "9"}]),
        ),
        (
            "/api/v2/chat/completions",
            chat_body([*USER, ASSISTANT_CALL, {"role": "tool", "tool_call_id": "call_2", "content": "9"}]),
        ),
        id="tool-call-id",
    ),
    pytest.param(
        {"has_tools": True},
        ("/api/v2/chat/completions", chat_body(tools=TOOLS, tool_choice="none")),
        ("/api/v2/chat/completions", chat_body()),
        id="has-tools",
    ),
    pytest.param(
        {"has_tools": True},
        (
            "/api/v2/chat/completions",
            chat_body(functions=[{"name": "f", "parameters": {"type": "object"}}], function_call="none"),
        ),
        ("/api/v2/chat/completions", chat_body()),
        id="has-tools-legacy-functions",
    ),
    pytest.param(
        {"has_tools": False},
        ("/api/v2/chat/completions", chat_body()),
        ("/api/v2/chat/completions", chat_body(tools=TOOLS, tool_choice="none")),
        id="has-no-tools",
    ),
    pytest.param(
        {"body": {"$.temperature": 0}},
        ("/api/v2/chat/completions", chat_body(temperature=0)),
        ("/api/v2/chat/completions", chat_body(temperature=0.5)),
        id="body-number",
    ),
    pytest.param(
        {"body": {"$.messages[0].role": "system"}},
        ("/api/v2/chat/completions", chat_body([{"role": "system", "content": "s"}, *USER])),
        ("/api/v2/chat/completions", chat_body()),
        id="body-index",
    ),
    pytest.param(
        {"body": {"$.messages[-1].content": {"contains": "there"}}},
        ("/api/v2/chat/completions", chat_body()),
        ("/api/v2/chat/completions", chat_body([{"role": "user", "content": "Hi"}])),
        id="body-negative-index",
    ),
    pytest.param(
        {"body": {"$.metadata": {"b": [1, 2], "a": "x"}}},
        ("/api/v2/chat/completions", chat_body(metadata={"a": "x", "b": [1, 2]})),
        ("/api/v2/chat/completions", chat_body(metadata={"a": "x", "b": [2, 1]})),
        id="body-key-order-ignored",
    ),
    pytest.param(
        {"body": {"$.logprobs": True}},
        ("/api/v2/chat/completions", chat_body(logprobs=True)),
        ("/api/v2/chat/completions", chat_body(logprobs=1)),
        id="body-true-is-not-1",
    ),
    pytest.param(
        {"last_user_message": {"contains": "once upon"}},
        ("/api/v2/completions", {"model": "alfred-4.2", "prompt": "once upon a time"}),
        ("/api/v2/completions", {"model": "alfred-4.2", "prompt": "long ago"}),
        id="completions-prompt",
    ),
]


@pytest.mark.parametrize("match, hit, miss", CASES)
def test_condition_matches_only_the_requests_it_describes(emulator, http, match, hit, miss):
    emulator.scripts.add({"name": "probe", "match": match, "response": {"content": MATCHED}})
    path, body = hit
    assert _text(http.post(path, json=body)) == MATCHED
    path, body = miss
    assert _text(http.post(path, json=body)) != MATCHED


def _text(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    choice = response.json()["choices"][0]
    return choice["message"]["content"] if "message" in choice else choice["text"]


def test_header_condition_is_case_insensitive_on_the_name(emulator, http):
    emulator.scripts.add(
        {"match": {"headers": {"X-Tenant": {"regex": "^acme$"}}}, "response": {"content": MATCHED}}
    )
    assert chat_text(http, "Hi", headers={"x-tenant": "acme"}) == MATCHED
    assert chat_text(http, "Hi", headers={"X-Tenant": "other"}) != MATCHED
    assert chat_text(http, "Hi") != MATCHED


@pytest.mark.parametrize(
    "inputs, expected",
    [
        pytest.param("just one unit vector", [[1.0, 0.0]], id="string"),
        pytest.param(["other", "a unit vector"], [[1.0, 0.0]], id="last-of-list"),
    ],
)
def test_embeddings_input_is_the_last_user_message(emulator, http, inputs, expected):
    emulator.scripts.add(
        {
            "match": {"operation": "embeddings", "last_user_message": {"contains": "unit"}},
            "response": {"embeddings": expected},
        }
    )
    response = http.post("/api/v2/embeddings", json={"model": "multilingual-e5-large", "input": inputs})
    assert [d["embedding"] for d in response.json()["data"]] == expected


def test_a_fixture_without_operation_does_not_answer_other_operations(emulator, http):
    emulator.scripts.add({"response": {"error": {"status": 500}}})
    assert http.get("/api/v2/models").status_code == 200
    assert chat(http, "Hi").status_code == 500


def test_first_match_wins_in_the_order_added(emulator, http):
    emulator.scripts.add(
        {"name": "first", "match": {"last_user_message": {"contains": "Hi"}}, "response": {"content": "1"}}
    )
    emulator.scripts.add({"name": "second", "response": {"content": "2"}})
    assert chat_text(http, "Hi") == "1"
    assert chat_text(http, "Yo") == "2"


def test_higher_priority_is_tried_first(emulator, http):
    emulator.scripts.add({"name": "low", "response": {"content": "low"}})
    emulator.scripts.add({"name": "high", "priority": 5, "response": {"content": "high"}})
    assert chat_text(http, "Hi") == "high"


def test_times_stops_a_fixture_after_n_uses(emulator, http):
    emulator.scripts.add({"name": "twice", "times": 2, "response": {"content": "scripted"}})
    answers = [chat_text(http, "Hi") for _ in range(3)]
    assert answers[:2] == ["scripted", "scripted"] and answers[2] != "scripted"


def test_responses_follow_the_calls_and_the_last_repeats(emulator, http):
    emulator.scripts.add({"responses": [{"content": "one"}, {"content": "two"}]})
    assert [chat_text(http, "Hi") for _ in range(4)] == ["one", "two", "two", "two"]


def test_responses_with_times_fall_through_after_the_sequence(emulator, http):
    emulator.scripts.add({"times": 2, "responses": [{"content": "one"}, {"content": "two"}]})
    emulator.scripts.add({"response": {"content": "fallback"}})
    assert [chat_text(http, "Hi") for _ in range(3)] == ["one", "two", "fallback"]


def test_times_holds_under_concurrent_requests(emulator, server):
    emulator.scripts.add({"name": "limited", "times": 10, "response": {"content": "scripted"}})
    answers: list[str] = []
    lock = threading.Lock()

    def worker():
        with httpx.Client(base_url=server.base_url, headers={"Authorization": "Bearer k"}, timeout=10) as c:
            for _ in range(5):
                text = chat_text(c, "Hi")
                with lock:
                    answers.append(text)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(answers) == 40
    assert answers.count("scripted") == 10
    assert sum(1 for e in emulator.journal.entries() if e.fixture == "limited") == 10


def test_reset_removes_runtime_fixtures_and_restarts_sequences(emulator, http):
    emulator.scripts.add({"responses": [{"content": "one"}, {"content": "two"}]})
    assert chat_text(http, "Hi") == "one"
    emulator.reset()
    assert chat_text(http, "Hi") not in ("one", "two")
    assert emulator.scripts.all() == []


def test_adding_a_fixture_with_a_taken_name_replaces_it(emulator, http):
    emulator.scripts.add({"name": "x", "response": {"content": "old"}})
    emulator.scripts.add({"name": "x", "response": {"content": "new"}})
    assert [f["name"] for f in emulator.scripts.all()] == ["x"]
    assert chat_text(http, "Hi") == "new"


def test_remove_takes_a_fixture_out(emulator, http):
    name = emulator.scripts.add({"response": {"content": "scripted"}})
    emulator.scripts.remove(name)
    assert chat_text(http, "Hi") != "scripted"
    with pytest.raises(KeyError):
        emulator.scripts.remove(name)


def test_default_names_count_runtime_fixtures(emulator):
    assert emulator.scripts.add({"response": {}}) == "fixture-1"
    assert emulator.scripts.add({"response": {}}) == "fixture-2"


def test_the_journal_names_the_fixture_that_answered(emulator, http):
    emulator.scripts.add(
        {"name": "greeter", "match": {"last_user_message": "Hi"}, "response": {"content": "Hey"}}
    )
    chat(http, "Hi")
    chat(http, "Other")
    assert [e.fixture for e in emulator.journal.entries()] == ["greeter", None]


def test_a_scripted_request_may_name_a_model_the_catalog_lacks(emulator, http):
    emulator.scripts.add({"match": {"model": "gpt-4o"}, "response": {"content": "scripted"}})
    response = http.post("/api/v2/chat/completions", json={"model": "gpt-4o", "messages": USER})
    assert response.json()["choices"][0]["message"]["content"] == "scripted"


def test_strict_mode_lists_the_closest_fixtures_and_why(make_server):
    running = make_server(strict=True)
    scripts = running.emulator.scripts
    scripts.add(
        {
            "name": "weather",
            "match": {"last_user_message": {"contains": "weather"}},
            "response": {"content": "w"},
        }
    )
    scripts.add(
        {
            "name": "alfred-4-only",
            "match": {"model": "alfred-4", "last_user_message": "Hello"},
            "response": {"content": "a"},
        }
    )
    scripts.add({"name": "embeddings", "match": {"operation": "embeddings"}, "response": {}})
    with httpx.Client(base_url=running.base_url, headers={"Authorization": "Bearer k"}, timeout=10) as c:
        response = chat(c, "Hello")
        message = response.json()["error"]["message"]
        assert response.status_code == 404
        assert response.json()["error"]["type"] == "NotFoundError"
        assert "--strict" in message
        assert "'weather'" in message and "last user message 'Hello' does not contain 'weather'" in message
        assert "'alfred-4-only'" in message and "model 'alfred-4.2' does not equal 'alfred-4'" in message
        assert message.index("'weather'") < message.index("'embeddings'")
        assert c.get("/api/v2/models").status_code == 200  # strict is about model calls only
        assert chat_text(c, "what weather?") == "w"


def test_strict_mode_without_fixtures_says_so(make_server):
    running = make_server(strict=True)
    with httpx.Client(base_url=running.base_url, headers={"Authorization": "Bearer k"}, timeout=10) as c:
        response = c.post("/api/v2/embeddings", json={"model": "multilingual-e5-large", "input": "x"})
    assert response.status_code == 404
    assert "No fixtures are loaded" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "text, literal",
    [
        pytest.param('say "quoted" now', 'say "quoted"', id="quotes"),
        pytest.param("path a/b/c here", "a/b/c", id="slash"),
        pytest.param("<tag> & 'x'", "<tag> & 'x'", id="html-chars"),
        pytest.param("café au lait", "café au", id="non-ascii"),
        pytest.param("line one\nline two", "one\nline", id="newline"),
        pytest.param("question [q7] {x: 1}", "[q7] {x: 1}", id="json-syntax-chars"),
    ],
)
def test_many_fixtures_match_exactly_as_few_do(emulator, http, text, literal):
    """With many fixtures a prefilter scans the raw body for their literal texts; escapes must not fool it."""
    for number in range(40):
        emulator.scripts.add(
            {
                "match": {"last_user_message": {"contains": f"filler {number}."}},
                "response": {"content": f"filler {number}"},
            }
        )
    emulator.scripts.add(
        {
            "name": "target",
            "match": {"model": "alfred-4.2", "last_user_message": {"contains": literal}},
            "response": {"content": MATCHED},
        }
    )
    assert chat_text(http, text) == MATCHED
    assert chat_text(http, "filler 12.") == "filler 12"
    assert chat_text(http, "nothing") not in (MATCHED, "filler 1")


def test_many_fixtures_match_a_form_body(emulator, http):
    for number in range(40):
        emulator.scripts.add(
            {"match": {"last_user_message": f"form {number}"}, "response": {"content": f"f{number}"}}
        )
    response = http.post(
        "/api/v2/chat/completions",
        data={"model": "alfred-4.2", "messages": '[{"role": "user", "content": "form 33"}]'},
    )
    assert response.json()["choices"][0]["message"]["content"] == "f33"
