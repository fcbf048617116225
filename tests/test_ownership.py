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
