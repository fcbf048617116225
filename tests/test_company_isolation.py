"""The seeded workspaces, tags and agents per company, through real HTTP on both backends: what one
company changes, creates or deletes of them is its own (its users share it), another company still
sees the seed; an agent created by a user is their company's; a space's reset brings the seeds back
for that company alone; and the same holds on two workers sharing Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import TIMEOUT, backend_overrides
from tests.test_users import users_file
from tests.test_workers import needs_redis, start_workers  # noqa: F401 (fixtures)

WORKSPACES, TAGS, AGENTS = "/api/v3/workspaces", "/api/v3/tags", "/api/v3/agents"


def client(base_url: str, key: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, timeout=TIMEOUT, headers={"Authorization": f"Bearer {key}"})


@pytest.fixture
def team(request: pytest.FixtureRequest, tmp_path: Path, make_server) -> Iterator[dict[str, httpx.Client]]:
    """Alice and Bob of Acme, Carol of Globex (tests/test_users.py's users file)."""
    running = make_server(users=users_file(tmp_path), **backend_overrides(request.param))
    clients = {name: client(running.base_url, f"{name}-key") for name in ("alice", "bob", "carol")}
    clients["control"] = httpx.Client(base_url=running.base_url, timeout=TIMEOUT)
    yield clients
    for http in clients.values():
        http.close()


@pytest.fixture
def two_keys(request: pytest.FixtureRequest, make_server) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """Two keys of no users file: each alone in a company of its own."""
    running = make_server(**backend_overrides(request.param))
    with client(running.base_url, "first-key") as first, client(running.base_url, "second-key") as second:
        yield first, second


TEAM = pytest.mark.parametrize("team", ["memory", "redis"], indirect=True)
TWO_KEYS = pytest.mark.parametrize("two_keys", ["memory", "redis"], indirect=True)


def ok(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


def tag_names(http: httpx.Client) -> set[str]:
    return {t["name"] for t in ok(http.get(TAGS))["results"]}


def agent_names(http: httpx.Client) -> dict[int, str]:
    return {a["id"]: a["name"] for a in ok(http.get(AGENTS))["results"]}


@TEAM
def test_a_seeded_workspace_changed_by_one_company_is_changed_for_its_users_alone(team) -> None:
    alice, bob, carol = team["alice"], team["bob"], team["carol"]
    renamed = ok(alice.patch(f"{WORKSPACES}/3", json={"name": "Acme Legal", "members": {"users": [101]}}))
    assert renamed["name"] == "Acme Legal"
    assert ok(bob.get(f"{WORKSPACES}/3"))["name"] == "Acme Legal"
    seen = ok(carol.get(f"{WORKSPACES}/3"))
    assert (seen["name"], seen["members"]) == ("Legal", {"users": [1], "groups": []})
    assert ok(carol.patch(f"{WORKSPACES}/3", json={"name": "Globex Legal"}))["name"] == "Globex Legal"
    listed = {w["id"]: w["name"] for w in ok(bob.get(WORKSPACES, params={"page_size": "100"}))["results"]}
    assert listed[3] == "Acme Legal" and listed[4] == "Engineering"
    # A file of the renamed workspace names it as its reader's company has it.
    made = ok(carol.post("/api/v3/files", files={"file": ("memo.txt", b"Globex words")},
                         data={"workspace_id": "3"}), 201)
    assert made["workspace"]["name"] == "Globex Legal"


@TEAM
def test_a_seeded_tag_deleted_by_one_company_stays_for_another(team) -> None:
    alice, bob, carol = team["alice"], team["bob"], team["carol"]
    theirs = ok(carol.post("/api/v3/files", files={"file": ("c.txt", b"Globex contract")},
                           data={"workspace_id": "3", "tags": ["1"]}), 201)
    mine = ok(alice.post("/api/v3/files", files={"file": ("a.txt", b"Acme contract")},
                         data={"workspace_id": "3", "tags": ["1"]}), 201)
    assert alice.delete(f"{TAGS}/1").status_code == 204
    assert "contract" not in tag_names(bob) and "contract" in tag_names(carol)
    assert bob.delete(f"{TAGS}/1").status_code == 404  # gone for the whole company
    assert ok(alice.get(f"/api/v3/files/{mine['id']}"))["tags"] == []
    assert [t["id"] for t in ok(carol.get(f"/api/v3/files/{theirs['id']}"))["tags"]] == [1]
    # The name is free again in Acme only: Globex still has the seeded one.
    assert ok(bob.post(TAGS, json={"name": "contract", "description": "Ours"}), 201)["id"] > 4
    assert carol.post(TAGS, json={"name": "Contract", "description": "Again"}).status_code == 400


@TEAM
def test_an_agent_is_its_company_s_and_a_seeded_one_changes_for_it_alone(team) -> None:
    alice, bob, carol = team["alice"], team["bob"], team["carol"]
    assert ok(alice.patch(f"{AGENTS}/2", json={"name": "Acme counsel"}))["name"] == "Acme counsel"
    assert agent_names(bob)[2] == "Acme counsel" and agent_names(carol)[2] == "Legal assistant"
    made = ok(alice.post(AGENTS, json={"name": "Deal desk"}), 201)
    assert agent_names(bob)[made["id"]] == "Deal desk"
    assert made["id"] not in agent_names(carol)
    assert carol.get(f"{AGENTS}/{made['id']}").status_code == 404
    assert carol.patch(f"{AGENTS}/{made['id']}", json={"name": "Ours"}).status_code == 404
    assert carol.get(f"{AGENTS}/{made['id']}/tools").status_code == 404
    refused = carol.post("/api/v3/threads/turns", json={"query": "Hi", "agent_id": made["id"]})
    assert refused.status_code == 400 and "agent_id" in refused.json()
    turn = ok(bob.post("/api/v3/threads/turns", json={"query": "Hi", "agent_id": made["id"]}))
    thread = ok(bob.get(f"/api/v3/threads/{turn['thread']}"))
    assert thread["agent_name"] == "Deal desk"


@TEAM
def test_a_space_s_reset_brings_the_seeds_back_for_its_company_alone(team) -> None:
    alice, bob, carol, control = team["alice"], team["bob"], team["carol"], team["control"]
    for http, name in ((alice, "Acme"), (carol, "Globex")):
        ok(http.patch(f"{WORKSPACES}/4", json={"name": f"{name} engineering"}))
        ok(http.patch(f"{AGENTS}/1", json={"name": f"{name} assistant"}))
        assert http.delete(f"{TAGS}/2").status_code == 204
    made = ok(alice.post(AGENTS, json={"name": "Deal desk"}), 201)

    counts = ok(control.post("/_emulator/reset", headers={"X-Emulator-Api-Key": "bob-key"}))
    assert (counts["agents"], counts["tags"]) == (2, 1)  # the copy and the creation; the deletion
    assert counts["workspaces"] >= 1
    assert ok(alice.get(f"{WORKSPACES}/4"))["name"] == "Engineering"
    assert agent_names(bob)[1] == "Assistant" and made["id"] not in agent_names(alice)
    assert "policy" in tag_names(alice)
    assert ok(carol.get(f"{WORKSPACES}/4"))["name"] == "Globex engineering"
    assert agent_names(carol)[1] == "Globex assistant" and "policy" not in tag_names(carol)


@TEAM
def test_a_file_of_a_made_workspace_is_its_members_and_follows_their_changes(team) -> None:
    alice, bob, carol = team["alice"], team["bob"], team["carol"]
    deals = ok(alice.post(WORKSPACES, json={"name": "Deals", "description": "M&A"}))
    filed = ok(alice.post("/api/v3/files", files={"file": ("platypus.txt", b"The platypus lays eggs.")},
                          data={"workspace_id": str(deals["id"])}), 201)
    question = {"query": "Where does the platypus lay eggs?"}

    def bob_sees() -> bool:
        found = bob.get(f"/api/v3/files/{filed['id']}").status_code == 200
        listed = filed["id"] in {f["id"] for f in ok(bob.get("/api/v3/files"))["results"]}
        searched = bob.post("/api/v2/chat/document-search", json=question)
        hit = searched.status_code == 200 and "platypus" in searched.text
        assert found == listed == hit
        return found

    assert "platypus" in alice.post("/api/v2/chat/document-search", json=question).text
    assert not bob_sees()  # a colleague, not a member
    ok(alice.patch(f"{WORKSPACES}/{deals['id']}", json={"members": {"users": [101, 102]}}))
    assert bob_sees()
    ok(alice.patch(f"{WORKSPACES}/{deals['id']}", json={"members": {"users": [101]}}))
    assert not bob_sees()
    assert carol.get(f"/api/v3/files/{filed['id']}").status_code == 404
    # A file of a seeded custom workspace stays every colleague's.
    seeded = ok(alice.post("/api/v3/files", files={"file": ("memo.txt", b"Acme words")},
                           data={"workspace_id": "3"}), 201)
    assert bob.get(f"/api/v3/files/{seeded['id']}").status_code == 200


@TEAM
def test_an_mcp_server_is_its_creator_s_company_s(team) -> None:
    alice, bob, carol, control = team["alice"], team["bob"], team["carol"], team["control"]
    made = ok(alice.post("/api/v3/mcp", json={"name": "acme-crm", "url": "https://mcp.example.com/crm",
                                              "authentication_method": "none"}), 201)

    def names(http: httpx.Client) -> set[str]:
        return {s["name"] for s in ok(http.get("/api/v3/mcp"))["results"]}

    assert "acme-crm" in names(bob) and "acme-crm" not in names(carol)
    assert "crm" in names(carol)  # the declared servers are everyone's
    assert ok(bob.get(f"/api/v3/mcp/{made['id']}/tools")) == ok(alice.get(f"/api/v3/mcp/{made['id']}/tools"))
    assert carol.get(f"/api/v3/mcp/{made['id']}").status_code == 404
    refused = carol.post(AGENTS, json={"name": "X", "mcp_server_ids": [made["id"]]})
    assert refused.status_code == 400 and "mcp_server_ids" in refused.json()
    forced = carol.post("/api/v3/threads/turns", json={"query": "Hi", "force_mcp_server": made["id"]})
    assert forced.status_code == 400 and "force_mcp_server" in forced.json()
    counts = ok(control.post("/_emulator/reset", headers={"X-Emulator-Api-Key": "alice-key"}))
    assert counts["mcp_servers"] == 1 and "acme-crm" not in names(bob)


@TWO_KEYS
def test_two_keys_do_not_see_each_other_s_changes_to_the_seeds(two_keys) -> None:
    first, second = two_keys
    ok(first.patch(f"{WORKSPACES}/3", json={"description": "Mine"}))
    ok(first.patch(f"{AGENTS}/1", json={"instructions": "Be brief."}))
    assert first.delete(f"{TAGS}/3").status_code == 204
    made = ok(first.post(AGENTS, json={"name": "Helper"}), 201)
    assert ok(second.get(f"{WORKSPACES}/3"))["description"] == "Contracts, policies and compliance"
    assert ok(second.get(f"{AGENTS}/1"))["instructions"] != "Be brief."
    assert "invoice" in tag_names(second) and "invoice" not in tag_names(first)
    assert second.get(f"{AGENTS}/{made['id']}").status_code == 404
    assert ok(first.get(f"{AGENTS}/{made['id']}"))["name"] == "Helper"


@needs_redis
def test_a_company_s_changes_are_the_same_on_every_worker(start_workers, tmp_path: Path) -> None:  # noqa: F811
    base = start_workers("--users", str(users_file(tmp_path)))

    def call(method: str, path: str, key: str, **options: object) -> httpx.Response:
        return httpx.request(method, base + path, timeout=20, **options,  # type: ignore[arg-type]
                             headers={"Authorization": f"Bearer {key}", "Connection": "close"})

    assert call("PATCH", f"{WORKSPACES}/3", "alice-key", json={"name": "Acme Legal"}).status_code == 200
    made = call("POST", AGENTS, "alice-key", json={"name": "Deal desk"}).json()
    assert call("DELETE", f"{TAGS}/4", "alice-key").status_code == 204
    for _ in range(6):  # new connections: both workers answer in turn
        assert call("GET", f"{WORKSPACES}/3", "bob-key").json()["name"] == "Acme Legal"
        assert call("GET", f"{WORKSPACES}/3", "carol-key").json()["name"] == "Legal"
        assert call("GET", f"{AGENTS}/{made['id']}", "bob-key").status_code == 200
        assert call("GET", f"{AGENTS}/{made['id']}", "carol-key").status_code == 404
        assert 4 not in {t["id"] for t in call("GET", TAGS, "bob-key").json()["results"]}
        assert 4 in {t["id"] for t in call("GET", TAGS, "carol-key").json()["results"]}
