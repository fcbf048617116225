"""MCP servers: the declared and created servers, their tools, agents that use them, turns that call them."""

from __future__ import annotations

import json

import httpx

from tests.conftest import TIMEOUT

TURNS = "/api/v3/threads/turns"
CRM = "5d0c8a3e-2f4b-4d6a-9c1e-7b3f5a9d2e41"  # the server fixtures/agents.yaml declares
SECRET = "s3cr3t-token-value"


def _events(raw: bytes) -> list[dict]:
    return [json.loads(block.split(b"\ndata: ", 1)[1]) for block in raw.split(b"\n\n") if block]


def _calls(turn: dict) -> list[dict]:
    return [p["tool_call"] for p in turn["messages"][1]["parts"] if p["type"] == "tool_call"]


def test_the_declared_server_is_listed_with_its_tools(backend_http):
    listed = backend_http.get("/api/v3/mcp").json()
    crm = backend_http.get(f"/api/v3/mcp/{CRM}").json()
    tools = backend_http.get(f"/api/v3/mcp/{CRM}/tools").json()

    assert listed["count"] == 1 and listed["results"] == [crm]
    assert crm["name"] == "crm" and crm["object"] == "mcp_server" and crm["has_credentials"] is True
    assert [t["name"] for t in tools] == ["lookup_customer", "export_orders"]
    assert {t["type"] for t in tools} == {"mcp"} and {t["mcp_server_name"] for t in tools} == {"crm"}


def test_a_created_server_never_shows_nor_journals_its_credentials(backend_http, on_backend):
    created = backend_http.post(
        "/api/v3/mcp",
        json={
            "name": "tickets",
            "url": "https://mcp.example.org/t",
            "authentication_method": "bearer_token",
            "credentials": SECRET,
        },
    )
    assert created.status_code == 201
    server = created.json()
    again = backend_http.get(f"/api/v3/mcp/{server['id']}")
    journal = httpx.get(on_backend.base_url + "/_emulator/journal", timeout=TIMEOUT)

    assert server["has_credentials"] is True and server["url"] == "https://mcp.example.org/t"
    assert "credentials" not in server and again.json() == server
    assert SECRET not in created.text + again.text + backend_http.get("/api/v3/mcp").text
    assert journal.status_code == 200 and SECRET not in journal.text
    assert backend_http.get(f"/api/v3/mcp/{server['id']}/tools").json() == []  # no declared twin


def test_a_created_server_with_a_declared_url_has_the_declared_tools(backend_http):
    server = backend_http.post(
        "/api/v3/mcp",
        json={"name": "my-crm", "url": "https://mcp.example.com/crm", "authentication_method": "none"},
    ).json()
    tools = backend_http.get(f"/api/v3/mcp/{server['id']}/tools").json()

    assert server["has_credentials"] is False
    assert [t["name"] for t in tools] == ["lookup_customer", "export_orders"]
    assert {t["mcp_server_name"] for t in tools} == {"my-crm"}


def test_bad_server_requests_are_400s_naming_the_field(backend_http):
    no_url = backend_http.post("/api/v3/mcp", json={"name": "x"})
    bad_method = backend_http.post(
        "/api/v3/mcp", json={"name": "x", "url": "https://a.b", "authentication_method": "oauth"}
    )
    missing = backend_http.get("/api/v3/mcp/00000000-0000-4000-8000-000000000000")

    assert no_url.status_code == 400 and "url" in no_url.json()
    assert bad_method.status_code == 400 and "authentication_method" in bad_method.json()
    assert missing.status_code == 404


def test_agents_keep_and_show_their_mcp_servers(backend_http):
    agent = backend_http.post("/api/v3/agents", json={"name": "Sales", "mcp_server_ids": [CRM]}).json()
    tools = backend_http.get(f"/api/v3/agents/{agent['id']}/tools").json()
    deprecated = backend_http.get(f"/api/v3/agent/chat_settings/{agent['id']}/tools").json()
    cleared = backend_http.patch(f"/api/v3/agents/{agent['id']}", json={"mcp_server_ids": []}).json()
    unknown = backend_http.post("/api/v3/agents", json={"name": "X", "mcp_server_ids": ["nope"]})

    assert agent["tools"]["mcp_servers"] == [{"id": CRM, "name": "crm", "object": "mcp_server"}]
    assert (
        tools["mcp_servers"][0]["id"] == CRM
        and tools["mcp_servers"][0]["authentication_method"] == "bearer_token"
    )
    assert deprecated["mcp_servers"] == [{"id": CRM, "name": "crm", "object": "mcp_server"}]
    assert deprecated["native"] == tools["native"]
    assert cleared["tools"]["mcp_servers"] == []
    assert unknown.status_code == 400 and "mcp_server_ids" in unknown.json()


def test_a_forced_mcp_server_is_called_and_its_result_answers(backend_http):
    turn = backend_http.post(
        TURNS, json={"query": "Who is the customer ACME?", "force_mcp_server": CRM}
    ).json()

    (call,) = _calls(turn)
    assert call["tool"]["type"] == "mcp" and call["tool"]["name"] == "lookup_customer"
    assert call["tool"]["mcp_server_name"] == "crm"
    assert call["tool_args"] == {"name": "Who is the customer ACME?"}
    assert call["result"]["text"].startswith("ACME Corp")
    assert call["steps"][-1]["status"] == "completed"
    assert "ACME Corp" in turn["messages"][1]["parts"][-1]["text"]


def test_force_mcp_server_takes_a_server_name_and_refuses_an_unknown_one(backend_http):
    by_name = backend_http.post(TURNS, json={"query": "export the orders", "force_mcp_server": "crm"})
    unknown = backend_http.post(TURNS, json={"query": "x", "force_mcp_server": "github"})

    assert _calls(by_name.json())[0]["tool"]["name"] == "export_orders"
    assert unknown.status_code == 400 and "force_mcp_server" in unknown.json()


def test_a_streamed_mcp_turn_shows_the_call_as_events(backend_http):
    thread = backend_http.post("/api/v3/threads", json={}).json()["id"]
    streamed = backend_http.post(
        f"/api/v3/threads/{thread}/turns",
        json={"query": "lookup customer ACME", "force_mcp_server": CRM, "stream": True},
    )
    events = _events(streamed.content)
    kinds = [e["type"] for e in events]

    assert kinds[0] == "turn.created" and kinds[-1] == "turn.completed"
    started = events[kinds.index("tool_call.started")]
    assert started["tool_call"]["tool"]["type"] == "mcp"
    completed = events[kinds.index("tool_call.completed")]
    assert completed["result"]["text"].startswith("ACME Corp")
    assert _calls(events[-1]["turn"])[0]["result"] == completed["result"]


def test_an_mcp_tool_call_produces_its_artifacts(backend_http):
    turn = backend_http.post(TURNS, json={"query": "export orders", "force_mcp_server": CRM}).json()
    (call,) = _calls(turn)
    (brief,) = call["result"]["file_artifacts"]
    artifact = backend_http.get(f"/api/v3/artifacts/{brief['id']}")

    assert artifact.status_code == 200
    body = artifact.json()
    assert {k: body[k] for k in brief} == brief
    assert body["name"] == "orders.csv" and body["mime_type"] == "text/csv"
    assert body["content"].startswith("order,amount") and body["size"] == len(body["content"].encode())
    assert (body["turn_id"], body["thread_id"], body["tool_call_id"]) == (
        turn["id"],
        turn["thread"],
        call["id"],
    )
    assert backend_http.get("/api/v3/artifacts/00000000-0000-4000-8000-000000000000").status_code == 404


def test_a_fixture_scripts_an_mcp_tool_call_and_its_artifacts(backend_http, on_backend):
    fixture = {
        "match": {"operation": "turn", "last_user_message": {"contains": "report"}},
        "response": {
            "tool_calls": [
                {
                    "name": "lookup_customer",
                    "mcp_server": "crm",
                    "arguments": {"name": "Initech"},
                    "result": "Initech: 2 orders.",
                    "artifacts": [{"name": "r.md", "content": "# Initech"}],
                }
            ],
            "content": "Initech has 2 orders.",
        },
    }
    assert httpx.post(
        on_backend.base_url + "/_emulator/fixtures", json=fixture, timeout=TIMEOUT
    ).status_code in (200, 201)

    turn = backend_http.post(TURNS, json={"query": "a report on Initech"}).json()
    (call,) = _calls(turn)
    artifact = backend_http.get(f"/api/v3/artifacts/{call['result']['file_artifacts'][0]['id']}").json()

    assert call["tool"] == {
        **call["tool"],
        "type": "mcp",
        "name": "lookup_customer",
        "mcp_server_name": "crm",
    }
    assert call["tool_args"] == {"name": "Initech"} and call["result"]["text"] == "Initech: 2 orders."
    assert artifact["content"] == "# Initech" and artifact["mime_type"] == "text/plain"
    assert turn["messages"][1]["parts"][-1]["text"] == "Initech has 2 orders."


def test_the_plugin_scripts_an_mcp_tool_of_the_agent(paradigm_emulator):
    emu = paradigm_emulator
    emu.on_turn(contains="orders").reply_tool_call("export_orders", {"customer": "ACME"}).and_reply("Done.")
    with httpx.Client(
        base_url=emu.root_url, headers={"Authorization": f"Bearer {emu.api_key}"}, timeout=TIMEOUT
    ) as http:
        agent = http.post("/api/v3/agents", json={"name": "Sales", "mcp_server_ids": [CRM]}).json()
        turn = http.post(TURNS, json={"query": "the orders of ACME", "agent_id": agent["id"]}).json()

    (call,) = _calls(turn)
    assert call["tool"]["type"] == "mcp" and call["tool"]["mcp_server_name"] == "crm"
    assert call["result"]["text"] == "Exported 3 open orders to orders.csv."  # the agents file's result
    assert call["result"]["file_artifacts"][0]["name"] == "orders.csv"
    assert turn["messages"][1]["parts"][-1]["text"] == "Done."


def test_the_same_mcp_turn_is_the_same_bytes_on_a_fresh_emulator(make_server):
    answers = []
    for _ in range(2):
        running = make_server()
        with httpx.Client(
            base_url=running.base_url, headers={"Authorization": "Bearer k"}, timeout=TIMEOUT
        ) as http:
            answers.append(http.post(TURNS, json={"query": "export orders", "force_mcp_server": CRM}).content)

    assert answers[0] == answers[1]
