"""v3 threads and turns through real HTTP, on both state backends: 200, 202 and polling, background,
cancel, ephemeral threads, pagination, bad input, determinism."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.conftest import KEY, TIMEOUT

UNUSED = {"reasoning": None, "tool_call": None, "document": None, "workspace": None}  # a Part's other fields

TURNS = "/api/v3/threads/turns"


def _poll(http, thread_id: str, until=lambda turn: turn["status"] not in ("running", "cancelling"),
          timeout_s: float = 5.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        last = http.get(f"/api/v3/threads/{thread_id}/turns").json()["results"][-1]
        if until(last) or time.monotonic() > deadline:
            return last
        time.sleep(0.01)


def _script(server, fixture: dict) -> None:
    httpx.post(server.base_url + "/_emulator/fixtures", json=fixture, timeout=TIMEOUT).raise_for_status()


def test_a_first_turn_answers_200_with_the_documented_turn(backend_http):
    response = backend_http.post(TURNS, json={"query": "What is Paradigm?"})

    assert response.status_code == 200
    turn = response.json()
    assert (turn["object"], turn["status"], turn["error"], turn["liked"]) == ("turn", "completed", None, None)
    user, assistant = turn["messages"]
    assert user["role"] == "user"
    assert user["parts"] == [{"type": "text", "text": "What is Paradigm?", **UNUSED}]
    assert assistant["role"] == "assistant" and assistant["parts"][-1]["type"] == "text"
    assert assistant["parts"][-1]["text"]
    assert {m["object"] for m in turn["messages"]} == {"message"}


def test_streaming_a_new_thread_turn_is_a_400_that_says_streaming_is_per_thread(backend_http):
    response = backend_http.post(TURNS, json={"query": "Stream me", "stream": True})

    assert response.status_code == 400
    (message,) = response.json()["stream"]
    assert "per thread" in message and "/api/v3/threads/{id}/turns" in message
    assert backend_http.get("/api/v3/threads").json()["count"] == 0  # nothing was created
    assert backend_http.post(TURNS, json={"query": "Plain", "stream": False}).status_code == 200


def test_a_thread_lists_its_turns_oldest_first(backend_http):
    first = backend_http.post(TURNS, json={"query": "one"}).json()
    thread = first["thread"]
    second = backend_http.post(f"/api/v3/threads/{thread}/turns", json={"query": "two"}).json()

    listed = backend_http.get(f"/api/v3/threads/{thread}/turns").json()

    assert listed["count"] == 2
    assert [t["id"] for t in listed["results"]] == [first["id"], second["id"]]


def test_a_thread_is_created_retrieved_and_renamed(backend_http):
    created = backend_http.post("/api/v3/threads", json={"name": "Plans", "agent_id": 2})
    assert created.status_code == 201
    thread = created.json()
    assert (thread["object"], thread["agent_id"], thread["agent_name"]) == ("thread", 2, "Legal assistant")

    patched = backend_http.patch(f"/api/v3/threads/{thread['id']}",
                                 json={"name": "Renamed", "is_archived": True, "ml_model": "alfred-4"}).json()

    assert (patched["name"], patched["is_archived"], patched["ml_model"]) == ("Renamed", True, "alfred-4")
    assert backend_http.get(f"/api/v3/threads/{thread['id']}").json()["name"] == "Renamed"


def test_threads_are_listed_newest_first_without_ephemeral_ones(backend_http):
    ids = [backend_http.post("/api/v3/threads", json={"name": f"t{n}"}).json()["id"] for n in range(3)]
    backend_http.post(TURNS, json={"query": "secret", "is_ephemeral": True})

    page = backend_http.get("/api/v3/threads", params={"limit": 2}).json()

    assert page["count"] == 3
    assert [t["id"] for t in page["results"]] == [ids[2], ids[1]]
    following = backend_http.get(page["next"]).json()
    assert [t["id"] for t in following["results"]] == [ids[0]]
    assert following["next"] is None and following["previous"] is not None


def test_an_ephemeral_thread_can_still_be_read_by_id(backend_http):
    turn = backend_http.post(TURNS, json={"query": "secret", "is_ephemeral": True}).json()

    thread = backend_http.get(f"/api/v3/threads/{turn['thread']}").json()

    assert thread["is_ephemeral"] is True


def test_a_background_turn_answers_202_at_once_and_is_polled_to_completion(on_backend, backend_http) -> None:
    _script(on_backend, {"match": {"operation": "turn", "last_user_message": {"contains": "slow"}},
                         "response": {"content": "Done slowly.", "duration_ms": 300}})
    response = backend_http.post(TURNS, json={"query": "a slow one", "background": True})

    assert response.status_code == 202
    # The status is the clock's at answer time: "running" means the answer did not wait for the turn.
    assert response.json()["status"] == "running"
    final = _poll(backend_http, response.json()["thread"])
    assert final["status"] == "completed"
    assert final["messages"][1]["parts"] == [{"type": "text", "text": "Done slowly.", **UNUSED}]


def test_a_turn_longer_than_the_wait_answers_202_then_completes(make_server):
    server = make_server(turn_ms=400, turn_wait_ms=50)
    with httpx.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=TIMEOUT
    ) as http:
        response = http.post(TURNS, json={"query": "hello"})
        assert response.status_code == 202
        assert response.json()["status"] == "running"
        assert _poll(http, response.json()["thread"])["status"] == "completed"


def test_a_turn_within_the_wait_answers_200_after_its_duration(make_server):
    server = make_server(turn_ms=150)
    with httpx.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=TIMEOUT
    ) as http:
        started = time.monotonic()
        response = http.post(TURNS, json={"query": "hello"})
        assert response.status_code == 200
        assert time.monotonic() - started >= 0.14


def test_a_new_turn_while_one_runs_is_a_409(on_backend, backend_http):
    _script(on_backend, {"match": {"operation": "turn"}, "response": {"duration_ms": 2000}})
    turn = backend_http.post(TURNS, json={"query": "long", "background": True}).json()

    response = backend_http.post(f"/api/v3/threads/{turn['thread']}/turns", json={"query": "next"})

    assert response.status_code == 409
    assert turn["id"] in response.json()["detail"]


def test_a_running_turn_is_cancelled_through_the_thread(on_backend, backend_http) -> None:
    # Only the long turn is slow: the turn taken after the cancel answers at the default pace.
    _script(on_backend, {"match": {"operation": "turn", "last_user_message": {"contains": "long"}},
                         "response": {"duration_ms": 5000}})
    turn = backend_http.post(TURNS, json={"query": "long", "background": True}).json()

    response = backend_http.patch(f"/api/v3/threads/{turn['thread']}", params={"cancel": "true"})

    assert response.status_code == 200
    assert response.json()["status"] in ("cancelling", "cancelled")
    assert _poll(backend_http, turn["thread"])["status"] == "cancelled"
    # and the thread takes a new turn once it is cancelled
    assert backend_http.post(f"/api/v3/threads/{turn['thread']}/turns",
                             json={"query": "again"}).status_code in (200, 202)


def test_cancelling_a_finished_turn_is_a_400_that_changes_nothing(backend_http):
    turn = backend_http.post(TURNS, json={"query": "quick"}).json()

    response = backend_http.patch(f"/api/v3/threads/{turn['thread']}", params={"cancel": "true"})

    assert response.status_code == 400
    assert "no running turn" in response.json()["detail"]
    assert _poll(backend_http, turn["thread"])["status"] == "completed"


def test_a_turn_keeps_running_when_its_client_goes_away(on_backend, backend_http):
    _script(
        on_backend,
        {"match": {"operation": "turn"}, "response": {"content": "Still here.", "duration_ms": 300}},
    )
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            on_backend.base_url + TURNS,
            json={"query": "bye"},
            headers={"Authorization": f"Bearer {KEY}"},
            timeout=httpx.Timeout(10.0, read=0.05),
        )
    threads = backend_http.get("/api/v3/threads").json()["results"]

    final = _poll(backend_http, threads[0]["id"])

    assert final["messages"][1]["parts"][-1]["text"] == "Still here."


def test_turn_actions_set_liked(backend_http):
    turn = backend_http.post(TURNS, json={"query": "rate me"}).json()
    path = f"/api/v3/threads/{turn['thread']}/turns/{turn['id']}"

    response = backend_http.patch(path, params={"action": "like_dislike"}, json={"liked": False})

    assert response.status_code == 200
    assert _poll(backend_http, turn["thread"])["liked"] is False
    assert backend_http.patch(path, params={"action": "copied"}).status_code == 200
    assert backend_http.patch(path, params={"action": "nope"}).status_code == 400


@pytest.mark.parametrize("body, field", [
    pytest.param({}, "query", id="missing-query"),
    pytest.param({"query": ""}, "query", id="empty-query"),
    pytest.param({"query": "x" * 5001}, "query", id="query-too-long"),
    pytest.param({"query": "x", "max_steps": 0}, "max_steps", id="max-steps-0"),
    pytest.param({"query": "x", "max_steps": 21}, "max_steps", id="max-steps-21"),
    pytest.param({"query": "x", "agent_id": 999}, "agent_id", id="unknown-agent"),
    pytest.param({"query": "x", "chat_setting_id": 999}, "chat_setting_id", id="unknown-chat-setting"),
    pytest.param({"query": "x", "ml_model": "gpt-17"}, "ml_model", id="unknown-model"),
    pytest.param({"query": "x", "ml_model": "multilingual-e5-large"}, "ml_model", id="embedding-model"),
    pytest.param({"query": "x", "force_tool": "web_crawl"}, "force_tool", id="unknown-tool"),
    pytest.param({"query": "x", "file_ids": [987654]}, "file_ids", id="unknown-file"),
    pytest.param({"query": "x", "workspace_ids": [987654]}, "workspace_ids", id="unknown-workspace"),
    pytest.param({"query": "x", "force_mcp_server": "github"}, "force_mcp_server", id="unknown-mcp-server"),
])
def test_bad_turn_input_is_a_drf_400_naming_the_field(backend_http, body, field):
    response = backend_http.post(TURNS, json=body)

    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert isinstance(response.json()[field], list)


def test_a_missing_query_says_the_field_is_required(backend_http):
    assert backend_http.post(TURNS, json={"agent_id": 1}).json() == {"query": ["This field is required."]}


def test_a_bad_turn_creates_no_thread(backend_http):
    backend_http.post(TURNS, json={"query": "x", "ml_model": "gpt-17"})

    assert backend_http.get("/api/v3/threads").json()["count"] == 0


@pytest.mark.parametrize("method, path", [
    pytest.param("GET", "/api/v3/threads/00000000-0000-4000-8000-000000000000", id="thread"),
    pytest.param("GET", "/api/v3/threads/nope/turns", id="turns"),
    pytest.param("POST", "/api/v3/threads/nope/turns", id="new-turn"),
    pytest.param("PATCH", "/api/v3/threads/nope", id="patch"),
])
def test_an_unknown_thread_is_a_404(backend_http, method, path):
    response = backend_http.request(method, path, json={"query": "x"})

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_the_same_query_on_a_fresh_thread_gives_the_same_answer(backend_http):
    first = backend_http.post(TURNS, json={"query": "Tell me a story"}).json()
    second = backend_http.post(TURNS, json={"query": "Tell me a story"}).json()

    assert first["messages"][1]["parts"] == second["messages"][1]["parts"]
    assert first["id"] != second["id"]


def test_the_history_shapes_the_next_answer(backend_http):
    thread = backend_http.post(TURNS, json={"query": "first"}).json()["thread"]
    follow = backend_http.post(f"/api/v3/threads/{thread}/turns", json={"query": "Tell me a story"}).json()
    fresh = backend_http.post(TURNS, json={"query": "Tell me a story"}).json()

    assert follow["messages"][1]["parts"] != fresh["messages"][1]["parts"]


def test_ids_are_reproducible_on_a_fresh_emulator(make_server):
    bodies = []
    for _ in range(2):
        server = make_server(seed=7)
        with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {KEY}"},
                          timeout=TIMEOUT) as http:
            bodies.append(http.post(TURNS, json={"query": "same"}).content)
    assert bodies[0] == bodies[1]


def test_a_json_schema_response_format_answers_valid_json(backend_http):
    schema = {"type": "object", "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
              "required": ["city", "population"]}
    import json

    turn = backend_http.post(TURNS, json={"query": "Largest city?", "response_format": {
        "type": "json_schema", "json_schema": {"name": "city", "schema": schema}}}).json()

    answer = json.loads(turn["messages"][1]["parts"][-1]["text"])
    assert isinstance(answer["city"], str) and isinstance(answer["population"], int)


def test_system_prompt_suffix_changes_the_answer(backend_http):
    plain = backend_http.post(TURNS, json={"query": "Hello"}).json()
    suffixed = backend_http.post(
        TURNS, json={"query": "Hello", "system_prompt_suffix": "Answer in French."}
    ).json()

    assert plain["messages"][1]["parts"] != suffixed["messages"][1]["parts"]


def test_a_running_turn_shows_the_parts_done_so_far(make_server):
    server = make_server(turn_wait_ms=0, itl_ms=100)
    with httpx.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=TIMEOUT
    ) as http:
        httpx.post(server.base_url + "/_emulator/fixtures", timeout=TIMEOUT, json={
            "match": {"operation": "turn"}, "response": {"chunks": ["one", " two", " three", " four"]}}
        ).raise_for_status()
        thread = http.post(TURNS, json={"query": "count", "background": True}).json()["thread"]
        partial = _poll(http, thread, until=lambda t: t["messages"][1]["parts"], timeout_s=5)
        assert partial["status"] == "running"
        assert "one two three four".startswith(partial["messages"][1]["parts"][0]["text"])
        parts = _poll(http, thread)["messages"][1]["parts"]
        assert parts == [{"type": "text", "text": "one two three four", **UNUSED}]


def test_every_part_carries_every_documented_field_of_a_part(on_backend, backend_http):
    backend_http.post("/api/v2/files", files={"file": ("leave.txt", b"Employees get 25 days of paid leave.")})
    turn = backend_http.post(TURNS, json={"query": "How many days of paid leave?", "file_ids": [1]}).json()

    parts = turn["messages"][0]["parts"] + turn["messages"][1]["parts"]
    assert [p["type"] for p in parts] == ["text", "tool_call", "text"]
    for part in parts:
        assert set(part) == {"type", "text", "reasoning", "tool_call", "document", "workspace"}
        assert [k for k, v in part.items() if v is not None] == ["type", part["type"]]
    thread = backend_http.get(f"/api/v3/threads/{turn['thread']}").json()
    assert thread["tool_params"] is None  # the thread's tool-parameters field (name not documented)


def test_a_reasoning_model_answers_with_a_reasoning_part_then_the_text(make_server, tmp_path):
    models = tmp_path / "models.yaml"
    models.write_text(
        "models:\n  - {technical_name: thinker, name: Thinker, kind: chat, reasoning: true}\n"
        "  - {technical_name: plain, name: Plain, kind: chat}\n",
        encoding="utf-8",
    )
    server = make_server(models=models)
    with httpx.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=TIMEOUT
    ) as http:
        thinking = http.post(TURNS, json={"query": "Why is the sky blue?", "ml_model": "thinker"}).json()
        plain = http.post(TURNS, json={"query": "Why is the sky blue?", "ml_model": "plain"}).json()
        listed = http.get("/api/v2/models").json()["data"]
        thread = http.post("/api/v3/threads", json={}).json()["id"]
        streamed = http.post(
            f"/api/v3/threads/{thread}/turns",
            json={"query": "Why is the sky blue?", "ml_model": "thinker", "stream": True},
        )

    reasoning, text = thinking["messages"][1]["parts"]
    assert reasoning["type"] == "reasoning" and reasoning["text"] is None
    assert reasoning["reasoning"].startswith('The user asks: "Why is the sky blue?"')
    assert text["type"] == "text" and text["text"]
    assert [p["type"] for p in plain["messages"][1]["parts"]] == ["text"]
    assert "reasoning" not in listed[0]  # the catalog's flag, not a listed field
    kinds = [line.split(": ", 1)[1] for line in streamed.text.splitlines() if line.startswith("event: ")]
    assert kinds[:2] == ["turn.created", "reasoning.delta"] and kinds[-1] == "turn.completed"
