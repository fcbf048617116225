"""The /_emulator control API, driven with plain HTTP as a test in any language would."""

from __future__ import annotations

import textwrap

import httpx
import pytest


@pytest.fixture(autouse=True)
def clean_emulator(emulator):
    """Each test starts from a reset emulator and leaves one behind (the session server is shared)."""
    yield
    emulator.reset()


USER = [{"role": "user", "content": "Hello there"}]
FIXTURE = {"name": "greeting", "match": {"last_user_message": "Hello there"}, "response": {"content": "Hi!"}}


@pytest.fixture
def control(server, emulator):
    """A client for the control API (no bearer key: it is not part of the Paradigm API)."""
    with httpx.Client(base_url=server.base_url + "/_emulator", timeout=10) as c:
        yield c


def ask(http, content="Hello there", **extra):
    return http.post(
        "/api/v2/chat/completions",
        json={"model": "alfred-4.2", "messages": [{"role": "user", "content": content}], **extra},
    )


def test_health(control):
    body = control.get("/health").json()
    assert body["status"] == "ok" and {"version", "fixtures", "journal"} <= set(body)


def test_add_a_fixture_as_json_then_it_answers(control, http, emulator):
    response = control.post("/fixtures", json=FIXTURE)
    assert (response.status_code, response.json()) == (201, {"added": ["greeting"]})
    assert ask(http).json()["choices"][0]["message"]["content"] == "Hi!"


def test_add_fixtures_as_yaml(control, http):
    document = textwrap.dedent("""\
        fixtures:
          - name: one
            match: {last_user_message: one}
            response: {content: first}
          - match: {last_user_message: two}
            response: {content: second}
    """)
    response = control.post("/fixtures", content=document, headers={"Content-Type": "application/yaml"})
    assert response.json() == {"added": ["one", "fixture-2"]}
    assert ask(http, "two").json()["choices"][0]["message"]["content"] == "second"


def test_add_a_list_of_fixtures(control):
    response = control.post("/fixtures", json=[{"name": "a", "response": {}}, {"name": "b", "response": {}}])
    assert response.json() == {"added": ["a", "b"]}


def test_list_fixtures_in_matching_order_with_uses(control, http):
    control.post(
        "/fixtures", json=[{"name": "low", "response": {}}, {"name": "high", "priority": 1, "response": {}}]
    )
    ask(http)
    listed = control.get("/fixtures").json()["fixtures"]
    assert [(f["name"], f["priority"], f["uses"], f["source"]) for f in listed] == [
        ("high", 1, 1, "runtime"),
        ("low", 0, 0, "runtime"),
    ]


def test_a_broken_fixture_is_a_400_that_says_what_is_wrong_and_adds_nothing(control):
    response = control.post("/fixtures", json=[FIXTURE, {"name": "bad", "match": {"model": 3}}])
    assert response.status_code == 400
    assert response.json()["detail"].startswith("fixture 'bad': match.model: expected a string")
    assert control.get("/fixtures").json()["fixtures"] == []


@pytest.mark.parametrize(
    "content, content_type, detail",
    [
        pytest.param("", "application/json", "Empty body", id="empty"),
        pytest.param("{oops", "application/json", "JSON parse error", id="bad-json"),
        pytest.param("a: [", "application/yaml", "YAML parse error (line 1)", id="bad-yaml"),
        pytest.param("[1, 2]", "application/json", "Expected a fixture (a mapping)", id="not-fixtures"),
    ],
)
def test_an_unreadable_body_is_a_400(control, content, content_type, detail):
    response = control.post("/fixtures", content=content, headers={"Content-Type": content_type})
    assert response.status_code == 400 and detail in response.json()["detail"]


def test_delete_one_fixture(control, http):
    control.post("/fixtures", json=FIXTURE)
    assert control.delete("/fixtures/greeting").json() == {"deleted": "greeting"}
    assert ask(http).json()["choices"][0]["message"]["content"] != "Hi!"


def test_delete_an_unknown_fixture_is_a_404_listing_the_others(control):
    control.post("/fixtures", json=FIXTURE)
    response = control.delete("/fixtures/nope")
    assert response.status_code == 404
    assert response.json() == {"detail": "No fixture named 'nope' (fixtures: 'greeting')."}


def test_a_file_fixture_cannot_be_deleted_through_the_api(make_server, tmp_path):
    (tmp_path / "f.yaml").write_text("- name: from-file\n  response: {}\n")
    running = make_server(fixtures_dir=tmp_path)
    response = httpx.delete(running.base_url + "/_emulator/fixtures/from-file", timeout=10)
    assert response.status_code == 409 and "edit or delete the file" in response.json()["detail"]


def test_delete_all_runtime_fixtures(control):
    control.post("/fixtures", json=[{"response": {}}, {"response": {}}])
    assert control.delete("/fixtures").json() == {"deleted": 2}
    assert control.get("/fixtures").json() == {"fixtures": []}


def test_journal_is_newest_first_with_everything_a_test_asserts_on(control, http):
    control.post("/fixtures", json=FIXTURE)
    ask(http, "first")
    ask(http, "Hello there", temperature=0)
    entries = control.get("/journal").json()["requests"]
    newest = entries[0]
    assert [e["body"]["messages"][0]["content"] for e in entries] == ["Hello there", "first"]
    assert (newest["method"], newest["path"], newest["status"], newest["fixture"]) == (
        "POST",
        "/api/v2/chat/completions",
        200,
        "greeting",
    )
    assert newest["body"]["temperature"] == 0 and newest["duration_ms"] >= 0
    assert (
        newest["headers"]["authorization"] == "[redacted]"
        and newest["headers"]["content-type"] == "application/json"
    )


def test_journal_filters(control, http):
    ask(http)
    http.get("/api/v2/models")
    http.get("/api/v2/models", headers={"X-Emulator-Status": "503"})
    assert [
        e["path"] for e in control.get("/journal", params={"path": "/api/v2/models"}).json()["requests"]
    ] == ["/api/v2/models", "/api/v2/models"]
    assert len(control.get("/journal", params={"limit": 1}).json()["requests"]) == 1
    assert [e["status"] for e in control.get("/journal", params={"status": 503}).json()["requests"]] == [503]
    by_operation = control.get("/journal", params={"operation": "api_v2_chat_completions_create"}).json()
    assert [e["path"] for e in by_operation["requests"]] == ["/api/v2/chat/completions"]


@pytest.mark.parametrize(
    "name",
    ["chat", "/chat/completions", "/api/v2/chat/completions", "POST /chat/completions",
     "api_v2_chat_completions_create"],
)
def test_journal_takes_the_operation_names_fixtures_and_assert_called_take(control, http, name):
    ask(http)
    http.get("/api/v2/models")
    http.post("/api/v2/embeddings", json={"model": "multilingual-e5-large", "input": "x"})
    found = control.get("/journal", params={"operation": name}).json()["requests"]
    assert [e["path"] for e in found] == ["/api/v2/chat/completions"]


def test_an_unknown_journal_operation_is_a_400_naming_the_valid_ones(control):
    response = control.get("/journal", params={"operation": "chats"})
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert detail.startswith("Unknown operation 'chats'; use one of chat, completions, embeddings, models")
    assert "turn" in detail and "operationId" in detail


@pytest.mark.parametrize(
    "params, detail",
    [
        pytest.param({"limit": "0"}, "limit must be a whole number >= 1, got '0'.", id="limit-zero"),
        pytest.param({"limit": "x"}, "limit must be a whole number >= 1, got 'x'.", id="limit-text"),
        pytest.param({"status": "ok"}, "status must be an HTTP status code, got 'ok'.", id="status-text"),
    ],
)
def test_bad_journal_filters_are_a_400(control, params, detail):
    response = control.get("/journal", params=params)
    assert (response.status_code, response.json()) == (400, {"detail": detail})


def test_control_calls_stay_out_of_the_journal(control):
    control.get("/health")
    control.get("/fixtures")
    assert control.get("/journal").json() == {"requests": []}


def test_clear_the_journal(control, http):
    ask(http)
    assert control.delete("/journal").json() == {"deleted": 1}
    assert control.get("/journal").json() == {"requests": []}


def test_reset_clears_fixtures_sequences_and_journal(control, http):
    control.post("/fixtures", json={"responses": [{"content": "one"}, {"content": "two"}]})
    ask(http)
    assert control.post("/reset").json() == {"reset": True}
    assert control.get("/fixtures").json() == {"fixtures": []}
    assert control.get("/journal").json() == {"requests": []}


def test_unknown_control_routes_are_404_and_wrong_methods_405(control):
    assert control.get("/nope").status_code == 404
    assert control.put("/journal").status_code == 405


def test_admin_token_guards_everything_but_health(make_server):
    running = make_server(admin_token="s3cret")
    with httpx.Client(base_url=running.base_url + "/_emulator", timeout=10) as c:
        assert c.get("/health").status_code == 200
        missing = c.get("/journal")
        assert missing.status_code == 401 and "X-Emulator-Admin-Token" in missing.json()["detail"]
        assert c.get("/journal", headers={"X-Emulator-Admin-Token": "wrong"}).json() == {
            "detail": "Wrong X-Emulator-Admin-Token."
        }
        assert c.post("/reset", headers={"X-Emulator-Admin-Token": "s3cret"}).status_code == 200


def test_the_admin_token_is_not_journaled(make_server):
    running = make_server(admin_token="s3cret")
    with httpx.Client(
        base_url=running.base_url,
        timeout=10,
        headers={"Authorization": "Bearer k", "X-Emulator-Admin-Token": "s3cret"},
    ) as c:
        c.get("/api/v2/models")
        entry = c.get("/_emulator/journal").json()["requests"][0]
    assert entry["headers"]["x-emulator-admin-token"] == "[redacted]"


def test_a_body_matcher_that_is_not_text_is_a_400(control):
    response = control.post("/fixtures", json={"match": {"body": {"$.a": {"contains": 5}}}})
    assert response.status_code == 400
    detail = "fixture #0 (fixture-1): match.body.$.a.contains: expected a string, got 5"
    assert response.json()["detail"] == detail


def test_yaml_values_without_a_json_type_are_listed_as_text(control):
    document = "name: dated\nmatch:\n  body: {'$.day': 2025-01-01}\n"
    added = control.post("/fixtures", content=document, headers={"Content-Type": "application/yaml"})
    assert added.status_code == 201
    assert control.get("/fixtures").json()["fixtures"][0]["match"]["body"] == {"$.day": "2025-01-01"}


def test_a_self_referencing_yaml_document_is_a_400(control):
    response = control.post("/fixtures", content="&a [*a]\n", headers={"Content-Type": "application/yaml"})
    assert response.status_code == 400
