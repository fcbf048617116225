"""The reads-aloud scripting API builds fixture dicts of the shared model, and the journal view reads
them back."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from emulator.testing.requests import Request, RequestLog, differences
from emulator.testing.rules import Rule, build_match, error_type


def rule(**match) -> Rule:
    return Rule(build_match("chat", **match), "r")


@pytest.mark.parametrize("built, fixture", [
    pytest.param(rule(contains="weather").reply("Sunny"),
                 {"name": "r", "match": {"operation": "chat", "last_user_message": {"contains": "weather"}},
                  "response": {"content": "Sunny"}}, id="reply"),
    pytest.param(rule().reply_tool_call("get_weather", {"city": "Paris"}).then_reply("Sunny"),
                 {"name": "r", "match": {"operation": "chat"}, "responses": [
                     {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
                     {"content": "Sunny"}]}, id="tool-call-then-reply"),
    pytest.param(rule().reply_tool_call("a", id="call_1").and_tool_call("b", '{"x": 1}'),
                 {"name": "r", "match": {"operation": "chat"}, "response": {"tool_calls": [
                     {"name": "a", "arguments": {}, "id": "call_1"},
                     {"name": "b", "arguments": '{"x": 1}'}]}},
                 id="parallel-tool-calls"),
    pytest.param(rule().fail(429, retry_after=1).then_reply("ok"),
                 {"name": "r", "match": {"operation": "chat"}, "responses": [
                     {"error": {"status": 429, "headers": {"Retry-After": "1"}}}, {"content": "ok"}]},
                 id="fail-then-reply"),
    pytest.param(rule().fail(503, "overloaded"),
                 {"name": "r", "match": {"operation": "chat"}, "response": {"error": {"status": 503, "body": {
                     "error": {"message": "overloaded", "type": "ServiceUnavailableError", "param": None,
                               "code": 503}}}}}, id="fail-with-message"),
    pytest.param(rule().stream(["Hel", "lo"], itl_ms=20).truncate_after(3),
                 {"name": "r", "match": {"operation": "chat"}, "response": {
                     "chunks": ["Hel", "lo"], "itl_ms": 20, "stream": {"truncate_after": 3}}},
                 id="stream-truncated"),
    pytest.param(rule().stream(["a"]).error_after(1, "boom"),
                 {"name": "r", "match": {"operation": "chat"}, "response": {"chunks": ["a"], "stream": {
                     "error_after": 1,
                     "error": {"message": "boom", "type": "InternalServerError", "param": None,
                               "code": 500}}}},
                 id="stream-error"),
    pytest.param(rule().drop_after(2),
                 {"name": "r", "match": {"operation": "chat"}, "response": {"stream": {"drop_after": 2}}},
                 id="modifier-alone-shapes-generated-answer"),
    pytest.param(rule().reply("x").with_headers({"X-A": "1"}, x_request_id="7").with_delay(5)
                 .with_usage(prompt_tokens=3, completion_tokens=4),
                 {"name": "r", "match": {"operation": "chat"}, "response": {
                     "content": "x", "headers": {"X-A": "1", "x-request-id": "7"}, "delay_ms": 5,
                     "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}}},
                 id="modifiers"),
    pytest.param(rule().reply().once().priority(5),
                 {"name": "r", "match": {"operation": "chat"}, "priority": 5, "times": 1, "response": {}},
                 id="generated-once-first"),
    pytest.param(Rule(build_match("embeddings", contains="cat"), "r").reply_embeddings([(1, 0), [0, 1]]),
                 {"name": "r", "match": {"operation": "embeddings", "last_user_message": {"contains": "cat"}},
                  "response": {"embeddings": [[1, 0], [0, 1]]}}, id="embeddings"),
    pytest.param(rule().respond(content="raw", finish_reason="length"),
                 {"name": "r", "match": {"operation": "chat"},
                  "response": {"content": "raw", "finish_reason": "length"}},
                 id="respond-raw"),
])
def test_rule_builds_the_fixture_dict(built, fixture):
    assert built.fixture == fixture


@pytest.mark.parametrize("kwargs, match", [
    pytest.param({"regex": re.compile(r"^hi")}, {"last_user_message": {"regex": "^hi"}}, id="compiled-regex"),
    pytest.param({"last_user_message": "hello"}, {"last_user_message": "hello"}, id="equals"),
    pytest.param({"model": {"contains": "alfred"}, "system": "Be brief"},
                 {"model": {"contains": "alfred"}, "system_message": "Be brief"}, id="model-system"),
    pytest.param({"tool_call_id": "call_1"}, {"tool_call_id": "call_1", "tool_result": True},
                 id="tool-call-id"),
    pytest.param({"has_tools": True, "headers": {"X-Tenant": "acme"}},
                 {"has_tools": True, "headers": {"X-Tenant": "acme"}}, id="tools-headers"),
    pytest.param({"body": {"temperature": 0, "$.messages[0].role": "system"}},
                 {"body": {"$.temperature": 0, "$.messages[0].role": "system"}}, id="body-paths"),
])
def test_match_conditions(kwargs, match):
    assert build_match(**kwargs) == match


@pytest.mark.parametrize("make, message", [
    pytest.param(lambda: build_match(contains="a", regex="b"), "give only one of contains=, regex=",
                 id="two-on-last"),
    pytest.param(lambda: build_match(model=3), "model= takes a string", id="model-not-text"),
    pytest.param(lambda: rule().stream("Hello"), "write stream(['Hello'])", id="stream-string"),
    pytest.param(lambda: rule().fail(200), "from 400 to 599, not 200", id="fail-200"),
    pytest.param(lambda: rule().fail(500, "m", body={}), "not both", id="fail-message-and-body"),
    pytest.param(lambda: rule().reply("x").and_tool_call("f"), "call reply_tool_call() first",
                 id="and-without-call"),
    pytest.param(lambda: rule().times(0), "number of uses >= 1, not 0", id="times-zero"),
    pytest.param(lambda: rule().truncate_after(-1), "SSE events >= 0, not -1", id="negative-events"),
    pytest.param(lambda: rule().reply("x", colour="red"), "unexpected option(s) colour", id="unknown-option"),
    pytest.param(lambda: rule().reply_tool_call("", {}), "non-empty string", id="tool-without-name"),
])
def test_builder_mistakes_are_named(make, message):
    with pytest.raises((TypeError, ValueError), match=re.escape(message)):
        make()


def test_every_change_is_published_with_the_whole_fixture():
    published = []
    Rule({"operation": "chat"}, "r", published.append).reply("a").then_reply("b").once()
    assert [p.fixture.get("times") for p in published] == [1, 1, 1]
    assert published[-1].fixture["responses"] == [{"content": "a"}, {"content": "b"}]


@pytest.mark.parametrize(
    "status, name",
    [
        (400, "BadRequestError"),
        (404, "NotFoundError"),
        (429, "TooManyRequestsError"),
        (500, "InternalServerError"),
        (599, "Error"),
    ],
)
def test_error_type_follows_vllm_naming(status, name):
    assert error_type(status) == name


def test_builder_dicts_are_accepted_by_the_fixture_engine(emulator):
    rules = [
        rule(contains="w").reply_tool_call("f", {"a": 1}).then_reply("x").with_headers(x_a="1"),
        rule().fail(429, "slow down", retry_after=0.5),
        rule().stream(["a", "b"], chunk_delays_ms=[0, 1, 2]).error_after(2),
        Rule(build_match("embeddings"), "r").reply_embeddings([[0.5]]).with_delay(1),
    ]
    try:
        for number, built in enumerate(rules):
            built.name = f"rule-{number}"
            assert emulator.scripts.add(built.fixture) == built.name
    finally:
        emulator.reset()  # the session server is shared: leave no fixture behind for the next test


def entry(seq, path="/api/v2/chat/completions", body=None, status=200, headers=None):
    return SimpleNamespace(seq=seq, method="POST", path=path, operation_id="api_v2_chat_completions_create",
                           query={}, headers=headers or {"content-type": "application/json"},
                           body=body if body is not None else {"model": "alfred-4.2"}, status=status,
                           outcome="complete", fixture=None, duration_ms=1.0)


@pytest.mark.parametrize("target, expected", [
    ("/api/v2/chat/completions", True), ("/chat/completions", True), ("chat", True),
    ("api_v2_chat_completions_create", True), ("completions", False), ("/api/v3/chat/completions", False),
    ("http://127.0.0.1:1/api/v2/chat/completions", True), ("models", False),
    ("POST chat", True), ("GET /chat/completions", False),
])
def test_request_targets(target, expected):
    assert Request.from_entry(entry(1), 1).is_to(target) is expected


def test_request_is_a_frozen_copy():
    body = {"model": "alfred-4.2", "messages": [{"role": "user", "content": "hi"}]}
    request = Request.from_entry(entry(1, body=body, headers={"x-tenant": "acme"}), 1)
    request.json["model"] = "changed"
    with pytest.raises(AttributeError):
        request.status = 500  # type: ignore[misc]
    assert (body["model"], request.headers["X-Tenant"], request.last_user_message) == (
        "alfred-4.2",
        "acme",
        "hi",
    )


def test_differences_name_each_path():
    actual = {"model": "a", "stream_options": {"include_usage": False}}
    assert differences(actual, {"model": "b", "stream_options": {"include_usage": True}, "n": 2}) == [
        "model is 'a', expected 'b'", "stream_options.include_usage is False, expected True",
        "n is missing, expected 2"]


def test_assert_called_lists_the_closest_requests():
    log = RequestLog(lambda: [entry(7, body={"model": "alfred-4"}), entry(8, path="/api/v2/models", body={})])
    with pytest.raises(AssertionError) as failure:
        log.assert_called("chat", 1, {"model": "alfred-4.2"})
    assert str(failure.value).splitlines() == [
        "expected 1 request to 'chat' with model='alfred-4.2', but 0 matched (2 seen in this test).",
        "Requests to 'chat' whose body differs:",
        "  #1 POST /api/v2/chat/completions -> 200: model is 'alfred-4', expected 'alfred-4.2'",
        "Other requests seen:",
        "  #2 POST /api/v2/models -> 200"]


def test_assert_called_counts():
    log = RequestLog(lambda: [entry(1), entry(2)])
    assert len(log.assert_called("chat", times=2)) == len(log.assert_called("chat", times=None)) == 2
    with pytest.raises(AssertionError, match=r"expected 1 request to 'chat', but 2 matched"):
        log.assert_called("chat", 1)


# -- the handle end to end (through the plugin's fixtures, on a real server) ---------------------------

def ask(client, text: str, **options) -> str:
    return client.chat.completions.create(model="alfred-4.2", messages=[{"role": "user", "content": text}],
                                          **options).choices[0].message.content


def test_a_rule_keeps_its_place_when_its_script_grows(paradigm_emulator, paradigm_client):
    first = paradigm_emulator.on_chat(contains="x").reply("A")
    paradigm_emulator.on_chat().reply("B")
    first.then_reply("A2")

    assert [ask(paradigm_client, "x"), ask(paradigm_client, "x"), ask(paradigm_client, "y")] == [
        "A",
        "A2",
        "B",
    ]


def test_removed_rules_and_verbatim_fixtures(paradigm_emulator, paradigm_client):
    rule = paradigm_emulator.on_chat().reply("scripted")
    name = paradigm_emulator.add_fixture({"name": "exact", "match": {"last_user_message": "hi"},
                                          "response": {"content": "verbatim"}, "priority": 1})
    assert (name, ask(paradigm_client, "hi"), ask(paradigm_client, "other")) == (
        "exact",
        "verbatim",
        "scripted",
    )

    paradigm_emulator.remove(rule)

    assert ask(paradigm_client, "other") != "scripted"
    assert [r.name for r in paradigm_emulator.rules] == ["exact"]


def test_a_fixture_the_engine_refuses_is_not_kept(paradigm_emulator):
    with pytest.raises(ValueError, match="colour"):
        paradigm_emulator.add_fixture({"match": {"colour": "red"}, "response": {}})
    assert paradigm_emulator.rules == ()


def test_fixture_folders_load_at_runtime_until_the_next_reset(paradigm_emulator, paradigm_client):
    paradigm_emulator.load_fixtures("tests/examples/fixtures")
    assert ask(paradigm_client, "refund?") == "Refunds are accepted within 30 days."
    assert [f["name"] for f in paradigm_emulator.fixtures] == ["refund-policy"]

    paradigm_emulator.reset()

    assert paradigm_emulator.fixtures == []


def test_version_restricted_rules_and_v3_clients(paradigm_emulator, paradigm_client):
    paradigm_emulator.on_chat(version="v3").reply("v3 only")
    v3 = paradigm_emulator.client(version="v3")

    assert (ask(v3, "q"), paradigm_emulator.last.path) == ("v3 only", "/api/v3/chat/completions")
    assert ask(paradigm_client, "q") != "v3 only"


def test_any_operation_can_fail(paradigm_emulator, paradigm_client):
    import openai

    paradigm_emulator.on("/api/v2/models").fail(500)

    with pytest.raises(openai.InternalServerError):
        paradigm_client.models.list()


def test_wait_for_requests_from_a_background_thread(paradigm_emulator, paradigm_client):
    import threading

    worker = threading.Thread(target=ask, args=(paradigm_client, "later"))
    worker.start()
    try:
        assert [r.last_user_message for r in paradigm_emulator.wait_for(1)] == ["later"]
    finally:
        worker.join(10)
    with pytest.raises(AssertionError, match=r"waited 0.01 s for 2 request\(s\), 1 arrived"):
        paradigm_emulator.wait_for(2, timeout_s=0.01)


def test_calls_filter_by_target_and_body(paradigm_emulator, paradigm_client):
    ask(paradigm_client, "a", temperature=0)
    ask(paradigm_client, "b", temperature=1)
    paradigm_client.models.list()

    assert [r.last_user_message for r in paradigm_emulator.calls("chat", temperature=1)] == ["b"]
    assert len(paradigm_emulator.calls()) == paradigm_emulator.call_count == 3


def test_last_without_requests_says_where_to_point(paradigm_emulator):
    with pytest.raises(AssertionError, match="no request has reached the emulator in this test"):
        paradigm_emulator.last  # noqa: B018 -- reading the property is what raises
