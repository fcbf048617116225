"""/api/v3/agents, /tools, /groups, /users/me through real HTTP, on both state backends."""

from __future__ import annotations

import pytest


def test_the_shipped_default_agent_is_listed_with_document_search(backend_http):
    page = backend_http.get("/api/v3/agents", params={"is_default": "true"}).json()

    assert page["count"] == 1
    (agent,) = page["results"]
    assert agent["is_default"] is True
    assert "document_search" in [t["name"] for t in agent["tools"]["native"]]


@pytest.mark.parametrize("params, names", [
    pytest.param({"name": "leg"}, ["Legal assistant"], id="name-prefix"),
    pytest.param({"is_default": "no"}, ["Legal assistant"], id="not-default"),
    pytest.param({"group_id": 2}, [], id="group"),
    pytest.param({"is_current_user_favorite": "true"}, [], id="favorites"),
])
def test_agents_filter(backend_http, params, names):
    assert [a["name"] for a in backend_http.get("/api/v3/agents", params=params).json()["results"]] == names


def test_an_agent_is_created_retrieved_and_patched(backend_http):
    tools = backend_http.get("/api/v3/tools").json()
    search = next(t["id"] for t in tools if t["name"] == "document_search")
    created = backend_http.post("/api/v3/agents", json={"name": "Support", "company_id": 1, "group_id": 1,
                                                        "native_tool_ids": [search]})
    assert created.status_code == 201
    agent_id = created.json()["id"]

    patched = backend_http.patch(
        f"/api/v3/agents/{agent_id}", json={"instructions": "Be brief.", "name": None}
    )

    assert patched.json()["instructions"] == "Be brief." and patched.json()["name"] == "Support"
    assert backend_http.get(f"/api/v3/agents/{agent_id}").json()["instructions"] == "Be brief."
    assert [t["name"] for t in backend_http.get(f"/api/v3/agents/{agent_id}/tools").json()["native"]] == \
        ["document_search"]


def test_a_patched_shipped_agent_comes_back_after_a_reset(on_backend, backend_http):
    import httpx

    backend_http.patch("/api/v3/agents/1", json={"name": "Changed"})
    httpx.post(on_backend.base_url + "/_emulator/reset").raise_for_status()

    assert backend_http.get("/api/v3/agents/1").json()["name"] == "Assistant"


@pytest.mark.parametrize("body, field", [
    pytest.param({}, "name", id="no-name"),
    pytest.param({"name": "x", "group_id": 99}, "group_id", id="unknown-group"),
    pytest.param({"name": "x", "native_tool_ids": ["nope"]}, "native_tool_ids", id="unknown-tool"),
    pytest.param({"name": "x", "ownership": "team"}, "group_id", id="team-without-group"),
])
def test_bad_agent_input_is_a_400_naming_the_field(backend_http, body, field):
    response = backend_http.post("/api/v3/agents", json=body)

    assert response.status_code == 400
    assert field in response.json()


def test_an_unknown_agent_is_a_404(backend_http):
    for path in ("/api/v3/agents/999", "/api/v3/agents/999/tools", "/api/v3/agents/999/tags"):
        assert backend_http.get(path).json() == {"detail": "Not found."}


def test_agent_tags_are_the_tags_used_by_documents_in_its_workspaces(backend_http):
    # Agent 2 sees workspace 3 only: a tag used there is listed with its count; a tag used only in a
    # workspace the agent does not see, or by no document at all, is not.
    tagged = backend_http.post("/api/v3/files", files={"file": ("a.txt", b"a contract")},
                               data={"workspace_id": "3", "tags": "1"})
    assert tagged.status_code == 201, tagged.text
    elsewhere = backend_http.post("/api/v3/files", files={"file": ("b.txt", b"a policy")},
                                  data={"workspace_id": "1", "tags": "2"})
    assert elsewhere.status_code == 201, elsewhere.text

    tags = backend_http.get("/api/v3/agents/2/tags").json()

    assert [(t["name"], t["document_count"]) for t in tags] == [("contract", 1)]
    assert backend_http.get("/api/v3/agents/2/tags", params={"tag": "pol"}).json() == []


def test_an_agent_over_empty_workspaces_has_no_tags(backend_http):
    assert backend_http.get("/api/v3/agents/1/tags", params={"tag": "contr"}).json() == []


def test_tools_list_the_native_tools(backend_http):
    names = {t["name"]: t for t in backend_http.get("/api/v3/tools").json()}

    assert {"document_search", "document_analysis"} <= set(names)
    assert names["document_search"]["type"] == "native" and names["document_search"]["object"] == "tool"


def test_groups_and_me_describe_the_user(backend_http):
    groups = backend_http.get("/api/v3/groups").json()
    me = backend_http.get("/api/v3/users/me").json()

    assert groups["count"] == 2 and isinstance(groups["results"][0]["user_ids"], str)
    assert me["profile"]["username"] == "emulator"
    assert me["permissions"] == {"is_admin": True, "can_manage_documents": True, "can_manage_api_keys": True,
                                 "has_monitoring_permission": True}
    assert me["settings"] == {"language": "en", "skip_help_step": True, "agent_instructions": None}
    assert {g["id"] for g in me["groups"]} == {g["id"] for g in groups["results"]}
    owned = backend_http.get(
        "/api/v3/groups", params={"user_id": me["profile"]["id"], "has_role": "owner"}
    ).json()
    assert [g["category"] for g in owned["results"]] == ["personal"]


def test_an_agents_file_replaces_the_shipped_one(make_server, tmp_path):
    import httpx

    path = tmp_path / "agents.yaml"
    path.write_text("tools: [{name: document_search}]\nagents:\n  - {id: 7, name: Only, is_default: true, "
                    "tools: [document_search]}\n", encoding="utf-8")
    server = make_server(agents=path)

    page = httpx.get(server.base_url + "/api/v3/agents", headers={"Authorization": "Bearer k"}).json()

    assert [a["id"] for a in page["results"]] == [7]
