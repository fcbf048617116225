"""Workspaces per user and company, through real HTTP on both backends: a user's personal workspace
is theirs alone, a company's workspace its users', a custom one its creator's and the members they
add; another user's is never listed and answers 404 (v2's collection_type, v3's workspaces, the
agents' lists); a space's reset removes its company's upload sessions, analyses, workspaces and tags
and nobody else's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import TIMEOUT, backend_overrides
from tests.test_users import users_file

BACKENDS = pytest.mark.parametrize("kind", ["memory", "redis"])
WORKSPACES = "/api/v3/workspaces"


def client(base_url: str, key: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, timeout=TIMEOUT, headers={"Authorization": f"Bearer {key}"})


@pytest.fixture
def two_keys(request: pytest.FixtureRequest, make_server) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """Two keys of no users file: two users, each alone in a company of their own."""
    running = make_server(**backend_overrides(request.param))
    with client(running.base_url, "first-key") as first, client(running.base_url, "second-key") as second:
        yield first, second


@pytest.fixture
def team(request: pytest.FixtureRequest, tmp_path: Path, make_server) -> Iterator[dict[str, httpx.Client]]:
    """Alice and Bob of Acme, Carol of Globex (tests/test_users.py's users file)."""
    running = make_server(users=users_file(tmp_path), **backend_overrides(request.param))
    clients = {name: client(running.base_url, f"{name}-key") for name in ("alice", "bob", "carol")}
    yield clients
    for http in clients.values():
        http.close()


TWO_KEYS = pytest.mark.parametrize("two_keys", ["memory", "redis"], indirect=True)
TEAM = pytest.mark.parametrize("team", ["memory", "redis"], indirect=True)


def listed(http: httpx.Client, **params: str) -> dict[int, dict]:
    response = http.get(WORKSPACES, params={"page_size": "100", **params})
    assert response.status_code == 200, response.text
    return {w["id"]: w for w in response.json()["results"]}


def home(http: httpx.Client, kind: str) -> dict:
    found = list(listed(http, workspace_type=kind).values())
    assert len(found) == 1, found
    return found[0]


def upload_v2(http: httpx.Client, name: str, **fields: str) -> dict:
    response = http.post("/api/v2/files", files={"file": (name, b"Some words about " + name.encode())},
                         data=fields)
    assert response.status_code == 200, response.text
    return response.json()


@TWO_KEYS
def test_two_keys_never_see_each_other_s_personal_workspace(two_keys) -> None:
    first, second = two_keys
    mine, theirs = home(first, "personal"), home(second, "personal")
    assert mine["id"] == 1  # the first user takes the seed's id: a single key sees what it always did
    assert theirs["id"] != mine["id"] and theirs["name"] == mine["name"] == "Personal"
    assert mine["id"] not in listed(second) and theirs["id"] not in listed(first)
    assert second.get(f"{WORKSPACES}/{mine['id']}").status_code == 404
    assert second.patch(f"{WORKSPACES}/{mine['id']}", json={"name": "Taken"}).status_code == 404
    assert first.get(f"{WORKSPACES}/{mine['id']}").json()["name"] == "Personal"
    # v2's "private" is the caller's own personal workspace, "company" their company's.
    assert upload_v2(second, "notes.txt")["workspace_id"] == theirs["id"]
    assert upload_v2(second, "memo.txt", collection_type="company")["workspace_id"] == \
        home(second, "company")["id"] != home(first, "company")["id"]
    # Naming another user's workspace is naming one that does not exist.
    named = second.post("/api/v3/files", files={"file": ("x.txt", b"x")},
                        data={"workspace_id": str(mine["id"])})
    assert named.status_code == 400 and "workspace_id" in named.json()
    search = second.post("/api/v2/chat/document-search",
                         json={"query": "words", "workspace_ids": [mine["id"]]})
    assert search.status_code == 400 and "workspace_ids" in search.json()
    # The shipped custom workspaces are shared, as fixture files are.
    assert {3, 4} <= set(listed(first)) and {3, 4} <= set(listed(second))


@TWO_KEYS
def test_an_agent_lists_the_caller_s_own_workspaces(two_keys) -> None:
    first, second = two_keys
    assert home(first, "personal")["id"] == 1  # the first to ask takes the seed's id
    theirs = home(second, "personal")["id"]
    upload_v2(second, "agenda.txt")
    shown = second.get("/api/v3/agents/1").json()["workspaces"]
    by_id = {w["id"]: w for w in shown}
    assert theirs in by_id and 1 not in by_id and by_id[theirs]["file_count"] == 1
    assert {w["id"] for w in first.get("/api/v3/agents/1").json()["workspaces"]} == {1, 2, 3, 4}
    assert all(w["file_count"] == 0 for w in first.get("/api/v3/agents/1").json()["workspaces"])


@TEAM
def test_users_of_one_company_share_its_workspace_and_their_custom_ones_by_membership(team) -> None:
    alice, bob, carol = team["alice"], team["bob"], team["carol"]
    acme = home(alice, "company")
    assert home(bob, "company")["id"] == acme["id"] and acme["name"] == "Acme"
    assert acme["members"]["users"] == [101, 102]
    globex = home(carol, "company")
    assert globex["id"] != acme["id"] and globex["name"] == "Globex"
    assert carol.get(f"{WORKSPACES}/{acme['id']}").status_code == 404
    assert home(alice, "personal")["id"] != home(bob, "personal")["id"]
    shared = upload_v2(alice, "handbook.txt", collection_type="company")
    assert shared["workspace_id"] == acme["id"]
    assert listed(bob)[acme["id"]]["file_count"] == 1 and listed(alice)[acme["id"]]["file_count"] == 1

    made = alice.post(WORKSPACES, json={"name": "Deals", "description": "M&A",
                                        "members": {"users": [101, 102]}})
    assert made.status_code == 200, made.text
    deals = made.json()
    alone = alice.post(WORKSPACES, json={"name": "Drafts", "description": "Mine"}).json()
    assert alone["members"]["users"] == [101]
    assert (listed(bob)[deals["id"]]["user_role"], listed(alice)[deals["id"]]["user_role"]) == \
        ("editor", "owner")
    assert alone["id"] not in listed(bob) and bob.get(f"{WORKSPACES}/{alone['id']}").status_code == 404
    for other in (carol,):
        assert deals["id"] not in listed(other)
        assert other.get(f"{WORKSPACES}/{deals['id']}").status_code == 404
        assert other.patch(f"{WORKSPACES}/{deals['id']}", json={"name": "Ours"}).status_code == 404
    renamed = bob.patch(f"{WORKSPACES}/{deals['id']}", json={"name": "Deals 2025"})
    assert renamed.status_code == 200
    assert alice.get(f"{WORKSPACES}/{deals['id']}").json()["name"] == "Deals 2025"


@TEAM
def test_a_company_s_tags_are_its_own(team) -> None:
    alice, bob, carol = team["alice"], team["bob"], team["carol"]
    made = alice.post("/api/v3/tags", json={"name": "urgent", "description": "Now"})
    assert made.status_code == 201, made.text
    tag = made.json()

    def names(http: httpx.Client) -> set[str]:
        return {t["name"] for t in http.get("/api/v3/tags").json()["results"]}

    assert "urgent" in names(bob) and "urgent" not in names(carol)
    assert {"contract", "policy"} <= names(carol)  # the seeded tags are everyone's
    assert carol.delete(f"/api/v3/tags/{tag['id']}").status_code == 404
    assert carol.post("/api/v3/tags", json={"name": "urgent", "description": "Also"}).status_code == 201
    assert bob.post("/api/v3/tags", json={"name": "Urgent", "description": "Again"}).status_code == 400
    assert bob.delete(f"/api/v3/tags/{tag['id']}").status_code == 204


def space(key: str) -> dict[str, str]:
    return {"X-Emulator-Api-Key": key}


@BACKENDS
def test_a_space_s_reset_removes_its_items_and_leaves_another_s(kind: str, make_server) -> None:
    running = make_server(**backend_overrides(kind))
    made: dict[str, dict] = {}
    with client(running.base_url, "suite-a") as a, client(running.base_url, "suite-b") as b, \
            httpx.Client(base_url=running.base_url, timeout=TIMEOUT) as control:
        for name, http in (("a", a), ("b", b)):
            session = http.post("/api/v2/upload-session", json={})
            assert session.status_code == 201, session.text
            file = upload_v2(http, f"orchard-{name}.txt")
            analysis = http.post("/api/v2/chat/document-analysis",
                                 json={"query": "apples", "document_ids": [file["id"]]})
            assert analysis.status_code == 200, analysis.text
            workspace = http.post(WORKSPACES, json={"name": f"Team {name}", "description": ""}).json()
            tag = http.post("/api/v3/tags", json={"name": f"tag-{name}", "description": ""}).json()
            personal = home(http, "personal")
            http.patch(f"{WORKSPACES}/{personal['id']}", json={"name": f"Renamed {name}"})
            made[name] = {"session": session.json()["uuid"], "analysis": analysis.json()["uuid"],
                          "workspace": workspace["id"], "tag": tag["id"], "personal": personal["id"]}

        reset = control.post("/_emulator/reset", headers=space("suite-a"))
        assert reset.status_code == 200, reset.text
        counts = reset.json()
        assert [counts[k] for k in ("files", "upload_sessions", "analyses", "tags")] == [1, 1, 1, 1]
        assert counts["workspaces"] == 3  # the custom one, the personal and the company workspace

        mine = made["a"]
        assert a.get(f"/api/v2/upload-session/{mine['session']}").status_code == 404
        assert a.get(f"/api/v2/chat/document-analysis/{mine['analysis']}").status_code == 404
        assert a.get(f"{WORKSPACES}/{mine['workspace']}").status_code == 404
        assert mine["tag"] not in {t["id"] for t in a.get("/api/v3/tags").json()["results"]}
        back = home(a, "personal")  # as seeded, with the same id
        assert (back["id"], back["name"], back["file_count"]) == (mine["personal"], "Personal", 0)

        theirs = made["b"]
        assert b.get(f"/api/v2/upload-session/{theirs['session']}").status_code == 200
        assert b.get(f"/api/v2/chat/document-analysis/{theirs['analysis']}").status_code == 200
        assert b.get(f"{WORKSPACES}/{theirs['workspace']}").status_code == 200
        assert theirs["tag"] in {t["id"] for t in b.get("/api/v3/tags").json()["results"]}
        assert home(b, "personal")["name"] == "Renamed b"
