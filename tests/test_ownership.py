"""Private items are their owner's, company items their company's: another user's item is never
listed, found or searched, and reading, changing or deleting it is DRF's 404; on both backends."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.conftest import TIMEOUT, backend_overrides
from tests.test_users import users_file

BACKENDS = pytest.mark.parametrize("kind", ["memory", "redis"])


@pytest.fixture
def team(request: pytest.FixtureRequest, tmp_path: Path, make_server):
    running = make_server(users=users_file(tmp_path), **backend_overrides(request.param))
    clients = {name: httpx.Client(base_url=running.base_url, timeout=TIMEOUT,
                                  headers={"Authorization": f"Bearer {name}-key"})
               for name in ("alice", "bob", "carol")}
    yield clients
    for client in clients.values():
        client.close()


def upload(http: httpx.Client, name: str, text: str, **fields: str) -> dict:
    response = http.post("/api/v2/files", files={"file": (name, text.encode())}, data=fields)
    assert response.status_code == 200, response.text
    return response.json()


def listed_ids(http: httpx.Client) -> set[int]:
    return {f["id"] for f in http.get("/api/v2/files").json()["data"]}


TEAM = pytest.mark.parametrize("team", ["memory", "redis"], indirect=True)


@TEAM
def test_another_user_s_private_file_is_not_listed_read_or_deleted(team) -> None:
    alice, bob = team["alice"], team["bob"]
    mine = upload(alice, "diary.txt", "Alice's private notes.")
    assert mine["id"] not in listed_ids(bob)
    assert bob.get(f"/api/v2/files/{mine['id']}").status_code == 404
    assert bob.delete(f"/api/v2/files/{mine['id']}").status_code == 404
    assert alice.get(f"/api/v2/files/{mine['id']}").status_code == 200


@TEAM
def test_company_files_are_shared_inside_the_company_only(team) -> None:
    shared = upload(team["alice"], "handbook.txt", "The Acme handbook.", collection_type="company")
    assert shared["id"] in listed_ids(team["bob"])  # Bob is of Acme too
    assert team["carol"].get(f"/api/v2/files/{shared['id']}").status_code == 404  # Carol is of Globex
    assert shared["id"] not in listed_ids(team["carol"])


@TEAM
def test_another_user_s_file_is_never_a_search_hit(team) -> None:
    upload(team["alice"], "quokka.txt", "The quokka lives on Rottnest Island.")
    found = team["carol"].post("/api/v2/query", json={"query": "Where does the quokka live?", "n": 3}).json()
    hits = found if isinstance(found, list) else [found]
    assert all(not hit.get("chunks") for hit in hits)


@TEAM
def test_another_user_s_thread_is_not_listed_or_read(team) -> None:
    thread = team["alice"].post("/api/v3/threads", json={"name": "Plans"}).json()
    assert thread["id"] not in {t["id"] for t in team["bob"].get("/api/v3/threads").json()["results"]}
    assert team["bob"].get(f"/api/v3/threads/{thread['id']}").status_code == 404
    # The v3 API deletes no thread: changing one is the write to refuse.
    assert team["bob"].patch(f"/api/v3/threads/{thread['id']}", json={"name": "Mine"}).status_code == 404
    assert team["alice"].get(f"/api/v3/threads/{thread['id']}").json()["name"] == "Plans"


@TEAM
def test_another_user_s_upload_session_is_not_found(team) -> None:
    created = team["alice"].post("/api/v2/upload-session", json={})
    assert created.status_code == 201, created.text
    session = created.json()
    assert team["bob"].get(f"/api/v2/upload-session/{session['uuid']}").status_code == 404


@TEAM
def test_another_user_s_analysis_is_not_found(team) -> None:
    file = upload(team["alice"], "orchard.txt", "The orchard grows seventeen kinds of apple.")
    created = team["alice"].post("/api/v2/chat/document-analysis",
                                 json={"query": "apples", "document_ids": [file["id"]]})
    assert created.status_code == 200, created.text
    key = created.json()["uuid"]
    assert team["carol"].get(f"/api/v2/chat/document-analysis/{key}").status_code == 404


def test_users_me_answers_for_the_caller_once_wired(tmp_path: Path, make_server) -> None:
    """What is wired today: the user reaches the handlers (``call.user``), as the journal shows."""
    running = make_server(users=users_file(tmp_path))
    auth = {"Authorization": "Bearer bob-key"}
    with httpx.Client(base_url=running.base_url, timeout=TIMEOUT, headers=auth) as bob:
        assert bob.get("/api/v3/users/me").status_code == 200
        entry = bob.get("/_emulator/journal").json()["requests"][0]
        assert (entry["user"], entry["company"]) == (102, 10)


def v3_upload(http: httpx.Client, name: str, text: str) -> dict:
    """Into the caller's personal workspace: the file is theirs alone."""
    personal = http.get("/api/v3/workspaces", params={"workspace_type": "personal"}).json()["results"][0]
    response = http.post("/api/v3/files", files={"file": (name, text.encode())},
                         data={"workspace_id": str(personal["id"])})
    assert response.status_code == 201, response.text
    return response.json()


@TEAM
def test_another_user_s_v3_file_is_not_listed_searched_changed_or_deleted(team) -> None:
    alice, bob = team["alice"], team["bob"]
    mine = v3_upload(alice, "ledger.txt", "The ledger of the wombat farm.")
    assert mine["created_by"]["id"] == 101  # Alice, from the users file
    assert mine["id"] not in {f["id"] for f in bob.get("/api/v3/files").json()["results"]}
    assert mine["id"] not in {f["id"] for f in bob.get("/api/v3/files", params={"search": "wombat"})
                              .json()["results"]}
    assert bob.get(f"/api/v3/files/{mine['id']}").status_code == 404
    assert bob.patch(f"/api/v3/files/{mine['id']}", json={"title": "Bob's"}).status_code == 404
    assert bob.delete(f"/api/v3/files/{mine['id']}").status_code == 404
    assert bob.get(f"/api/v2/files/{mine['id']}/chunks").status_code == 404
    mine_again = alice.get(f"/api/v3/files/{mine['id']}")
    assert mine_again.status_code == 200 and mine_again.json()["title"] == "ledger.txt"
    assert mine["id"] in {f["id"] for f in alice.get("/api/v3/files", params={"search": "wombat"})
                          .json()["results"]}


@TEAM
def test_another_user_s_file_is_no_document_search_hit_and_no_turn_may_name_it(team) -> None:
    alice, carol = team["alice"], team["carol"]
    mine = upload(alice, "platypus.txt", "The platypus lays eggs in a burrow by the river.")
    found = alice.post("/api/v2/chat/document-search", json={"query": "Where does the platypus lay eggs?"})
    assert found.status_code == 200 and "platypus" in found.text  # its owner finds it
    theirs = carol.post("/api/v2/chat/document-search", json={"query": "Where does the platypus lay eggs?"})
    assert theirs.status_code == 200 and "platypus" not in theirs.text
    named = carol.post("/api/v2/chat/document-search", json={"query": "eggs", "file_ids": [mine["id"]]})
    assert named.status_code == 400 and str(mine["id"]) in named.text  # as an id that does not exist
    turn = carol.post("/api/v3/threads/turns",
                      json={"query": "Where are the eggs?", "file_ids": [mine["id"]]})
    assert turn.status_code == 400 and "file_ids" in turn.json()
    retrieved = carol.post("/api/v3/retrieve", json={"query": "platypus eggs"})
    assert retrieved.status_code == 200 and retrieved.json()["results"] == []


@TEAM
def test_one_user_s_deactivation_leaves_another_s_upload_sessions_valid(team) -> None:
    alice, bob = team["alice"], team["bob"]
    session = alice.post("/api/v2/upload-session", json={}).json()
    done = bob.post("/api/v2/upload-session/deactivate", json={}).json()
    assert session["uuid"] not in done["deactivated"]
    assert alice.get(f"/api/v2/upload-session/{session['uuid']}").json()["is_valid"] is True
    assert bob.delete(f"/api/v2/upload-session/{session['uuid']}").status_code == 404


@TEAM
def test_a_thread_s_turns_and_sources_are_its_owner_s(team) -> None:
    alice, bob = team["alice"], team["bob"]
    turn = alice.post("/api/v3/threads/turns", json={"query": "Hello there"})
    assert turn.status_code in (200, 202), turn.text
    thread_id = turn.json()["thread"]
    assert alice.get(f"/api/v3/threads/{thread_id}").status_code == 200  # the new thread is Alice's
    assert thread_id not in {t["id"] for t in bob.get("/api/v3/threads").json()["results"]}
    assert bob.get(f"/api/v3/threads/{thread_id}/turns").status_code == 404
    assert bob.post(f"/api/v3/threads/{thread_id}/turns", json={"query": "Mine now"}).status_code == 404
    assert bob.get("/api/v3/sources", params={"thread_id": thread_id}).status_code == 404
    assert bob.get("/api/v3/sources", params={"turn_id": turn.json()["id"]}).status_code == 404


def test_users_me_answers_for_each_user_of_the_users_file(tmp_path: Path, make_server) -> None:
    running = make_server(users=users_file(tmp_path))
    for key, (user_id, company) in {"alice-key": (101, "Acme"), "carol-key": (201, "Globex")}.items():
        me = httpx.get(running.base_url + "/api/v3/users/me", headers={"Authorization": f"Bearer {key}"},
                       timeout=TIMEOUT).json()
        assert (me["profile"]["id"], me["company"]["name"]) == (user_id, company)
        assert me["permissions"]["is_admin"] is (key == "alice-key")


def test_without_users_one_key_sees_all_it_made_and_users_me_is_the_agents_file_s(make_server) -> None:
    """The common case: one key, no --users; it sees its files and threads, and another key does not."""
    running = make_server()
    with httpx.Client(base_url=running.base_url, timeout=TIMEOUT,
                      headers={"Authorization": "Bearer only-key"}) as mine, \
            httpx.Client(base_url=running.base_url, timeout=TIMEOUT,
                         headers={"Authorization": "Bearer other-key"}) as other:
        made = upload(mine, "notes.txt", "Some notes.")
        thread = mine.post("/api/v3/threads", json={"name": "Mine"}).json()
        assert made["id"] in listed_ids(mine)
        assert mine.get(f"/api/v3/threads/{thread['id']}").status_code == 200
        assert made["id"] not in listed_ids(other)
        assert mine.get("/api/v3/users/me").json() == other.get("/api/v3/users/me").json()
        assert mine.get(f"/api/v3/files/{made['id']}").json()["created_by"]["username"] == "emulator"
