"""v3 file, tag and workspace management through real HTTP, on both state backends: PATCH of a
file, tags added, tags and workspaces created, changed and deleted, and the fields and filters the
docs give the existing operations."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from conftest import KEY, REDIS_URL
from sample_documents import make_pdf

from emulator.config import Settings
from emulator.documents.workspace_store import WorkspaceStore
from emulator.documents.workspaces import Seed
from emulator.state.memory import MemoryBackend

AUTH = {"Authorization": f"Bearer {KEY}"}


def upload(http, name: str, data: bytes, workspace_id: int = 1, **fields) -> dict:
    response = http.post("/api/v3/files", files={"file": (name, data)},
                         data={"workspace_id": str(workspace_id), **fields})
    assert response.status_code == 201, response.text
    return response.json()


def get(http, file_id: int, **params) -> dict:
    response = http.get(f"/api/v3/files/{file_id}", params=params)
    assert response.status_code == 200, response.text
    return response.json()


# -- PATCH /api/v3/files/{id} ------------------------------------------------------------------------

def test_patch_changes_the_title_and_moves_updated_at(backend_http):
    created = upload(backend_http, "a.txt", b"text")
    response = backend_http.patch(f"/api/v3/files/{created['id']}", json={"title": "New title"})
    assert response.status_code == 200, response.text
    assert (response.json()["title"], response.json()["updated_at"]) == ("New title", "2025-01-01T00:00:02Z")
    assert get(backend_http, created["id"])["title"] == "New title"


def test_patch_tags_replaces_them_all_as_manual_and_zero_clears(backend_http):
    created = upload(backend_http, "a.txt", b"text", tags=["1", "3"])
    assert [(t["id"], t["auto_assigned"]) for t in created["tags"]] == [(1, False), (3, True)]
    replaced = backend_http.patch(f"/api/v3/files/{created['id']}", json={"tags": [3, 4]}).json()
    assert [(t["id"], t["name"], t["auto_assigned"]) for t in replaced["tags"]] == \
        [(3, "invoice", False), (4, "specification", False)]
    cleared = backend_http.patch(f"/api/v3/files/{created['id']}", json={"tags": [0]}).json()
    assert cleared["tags"] == []


def test_patch_takes_multipart_as_the_docs_show_it(backend_http):
    created = upload(backend_http, "a.txt", b"text")
    response = backend_http.patch(f"/api/v3/files/{created['id']}",
                                  files={"title": (None, "From a form"), "tags": (None, "2")})
    assert response.status_code == 200, response.text
    assert (response.json()["title"], [t["id"] for t in response.json()["tags"]]) == ("From a form", [2])


def test_patch_creates_then_merges_external_metadata(backend_http):
    created = upload(backend_http, "a.txt", b"text")
    path = f"/api/v3/files/{created['id']}"
    missing = backend_http.patch(path, json={"external_metadata": {"doc_type": "contract"}})
    assert (missing.status_code, list(missing.json())) == (400, ["external_metadata"])
    first = backend_http.patch(path, json={"external_metadata": {
        "external_id": "crm-42", "additional_metadata": {"owner": "ada", "stage": 1}}}).json()
    assert first["external_metadata"] == {"external_id": "crm-42",
                                          "additional_metadata": {"owner": "ada", "stage": 1}}
    merged = backend_http.patch(path, json={"external_metadata": {
        "doc_type": "contract", "additional_metadata": {"stage": 2}}}).json()
    assert merged["external_metadata"] == {"external_id": "crm-42", "doc_type": "contract",
                                           "additional_metadata": {"owner": "ada", "stage": 2}}


@pytest.mark.parametrize("body, field", [
    pytest.param({"filename": "other.txt", "status": "embedded"}, "non_field_errors", id="only-immutable"),
    pytest.param({}, "non_field_errors", id="empty"),
    pytest.param({"title": "x", "tags": [1, 77]}, "tags", id="unknown-tag"),
    pytest.param({"title": "x" * 256}, "title", id="title-too-long"),
    pytest.param({"tags": "one"}, "tags", id="tags-type"),
])
def test_a_rejected_patch_is_400_naming_the_field_and_changes_nothing(backend_http, body, field):
    created = upload(backend_http, "a.txt", b"text", title="Kept", tags=["1"])
    response = backend_http.patch(f"/api/v3/files/{created['id']}", json=body)
    assert response.status_code == 400, response.text
    assert field in response.json()
    now = get(backend_http, created["id"])
    assert (now["title"], [t["id"] for t in now["tags"]], now["updated_at"]) == \
        ("Kept", [1], created["updated_at"])


def test_patch_of_a_missing_file_is_404(backend_http):
    response = backend_http.patch("/api/v3/files/99", json={"title": "x"})
    assert (response.status_code, response.json()) == (404, {"detail": "Not found."})


# -- POST /api/v3/files/{file_id}/tags ----------------------------------------------------------------

def test_add_tags_adds_the_new_ones_and_ignores_duplicates(backend_http):
    created = upload(backend_http, "a.txt", b"text", tags=["1"])
    response = backend_http.post(f"/api/v3/files/{created['id']}/tags", json={"tags": [1, 2, 2, 4]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["message"] == "Added 2 tag(s) to file (duplicates ignored)"
    assert [t["id"] for t in body["tags"]] == [1, 2, 4]


@pytest.mark.parametrize("path, body, status, field", [
    pytest.param("/api/v3/files/{id}/tags", {"tags": []}, 400, "tags", id="empty"),
    pytest.param("/api/v3/files/{id}/tags", {}, 400, "tags", id="missing"),
    pytest.param("/api/v3/files/{id}/tags", {"tags": [9]}, 400, "tags", id="unknown-tag"),
    pytest.param("/api/v3/files/99/tags", {"tags": [1]}, 404, "detail", id="unknown-file"),
])
def test_add_tags_errors(backend_http, path, body, status, field):
    created = upload(backend_http, "a.txt", b"text")
    response = backend_http.post(path.format(id=created["id"]), json=body)
    assert response.status_code == status, response.text
    assert field in response.json()
    assert get(backend_http, created["id"])["tags"] == []


# -- /api/v3/tags -------------------------------------------------------------------------------------------

def test_create_a_tag_then_find_and_use_it(backend_http):
    response = backend_http.post("/api/v3/tags", json={"name": "Project Alpha", "description": "Alpha docs"})
    assert response.status_code == 201, response.text
    tag = response.json()
    assert {k: tag[k] for k in ("id", "name", "description", "auto_assign", "document_count")} == \
        {"id": 5, "name": "Project Alpha", "description": "Alpha docs", "auto_assign": True,
         "document_count": 0}
    listed = backend_http.get("/api/v3/tags").json()["results"]
    assert listed[0]["name"] == "Project Alpha"  # newest first
    upload(backend_http, "a.txt", b"text", tags=[str(tag["id"])])
    found = backend_http.get("/api/v3/tags", params={"name": "alpha"}).json()["results"]
    assert [(t["id"], t["document_count"]) for t in found] == [(5, 1)]


@pytest.mark.parametrize("body, field", [
    pytest.param({"description": "x"}, "name", id="no-name"),
    pytest.param({"name": "x"}, "description", id="no-description"),
    pytest.param({"name": "Contract", "description": "x"}, "name", id="name-taken"),
    pytest.param({"name": "x", "description": "x", "auto_assign": "maybe"}, "auto_assign", id="wrong-type"),
])
def test_create_tag_errors(backend_http, body, field):
    response = backend_http.post("/api/v3/tags", json=body)
    assert response.status_code == 400, response.text
    assert field in response.json()
    assert backend_http.get("/api/v3/tags").json()["count"] == 4


def test_delete_a_tag_removes_it_from_every_file_and_its_id_is_never_given_again(backend_http):
    created = upload(backend_http, "a.txt", b"text", tags=["2", "4"])
    assert backend_http.delete("/api/v3/tags/4").status_code == 204
    assert [t["id"] for t in get(backend_http, created["id"])["tags"]] == [2]
    assert 4 not in [t["id"] for t in backend_http.get("/api/v3/tags").json()["results"]]
    assert backend_http.delete("/api/v3/tags/4").status_code == 404
    again = backend_http.post("/api/v3/tags", json={"name": "specification", "description": "back"}).json()
    assert again["id"] == 5


# -- /api/v3/workspaces -----------------------------------------------------------------------------------

def test_create_retrieve_and_update_a_workspace(backend_http):
    response = backend_http.post("/api/v3/workspaces", json={
        "name": "Research", "description": "Papers", "members": {"users": [{"id": 1, "role": "owner"}]}})
    assert response.status_code == 200, response.text
    created = response.json()
    fields = ("id", "name", "workspace_type", "user_role", "members", "file_count")
    assert {k: created[k] for k in fields} == \
        {"id": 5, "name": "Research", "workspace_type": "custom", "user_role": "owner",
         "members": {"users": [1], "groups": []}, "file_count": 0}
    upload(backend_http, "paper.txt", b"a paper", workspace_id=5)
    fetched = backend_http.get("/api/v3/workspaces/5").json()
    assert (fetched["files_count"], fetched["used_storage"]) == (1, 7.0)
    listed = backend_http.get("/api/v3/workspaces").json()["results"]
    assert [w["id"] for w in listed] == [5, 1, 2, 3, 4]  # newest first
    changed = backend_http.patch("/api/v3/workspaces/5",
                                 json={"name": "Research lab", "members": {"users": [2]}})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["name"], changed.json()["description"], changed.json()["members"]["users"]) == \
        ("Research lab", "Papers", [2])
    assert changed.json()["updated_at"] > created["updated_at"]


@pytest.mark.parametrize("method, path, body, status, field", [
    pytest.param("POST", "/api/v3/workspaces", {"description": "x"}, 400, "name", id="create-no-name"),
    pytest.param("POST", "/api/v3/workspaces", {"name": "x"}, 400, "description", id="create-no-description"),
    pytest.param("POST", "/api/v3/workspaces", {"name": "x", "description": "x",
                                                "document_upload_method": "ftp"}, 400,
                 "document_upload_method", id="create-bad-method"),
    pytest.param("GET", "/api/v3/workspaces/99", None, 404, "detail", id="get-unknown"),
    pytest.param("PATCH", "/api/v3/workspaces/99", {"name": "x"}, 404, "detail", id="patch-unknown"),
    pytest.param("PATCH", "/api/v3/workspaces/3", {"name": ""}, 400, "name", id="patch-blank-name"),
])
def test_workspace_errors(backend_http, method, path, body, status, field):
    response = backend_http.request(method, path, json=body)
    assert response.status_code == status, response.text
    assert field in response.json()
    assert backend_http.get("/api/v3/workspaces").json()["count"] == 4
    assert backend_http.get("/api/v3/workspaces/3").json()["name"] == "Legal"


@pytest.mark.parametrize("params, expected", [
    pytest.param({"role": "owner"}, [1], id="role"),
    pytest.param({"document_upload_method": "manual", "workspace_type": "custom"}, [3, 4],
                 id="method-and-type"),
    pytest.param({"document_upload_method": "synced"}, [], id="none"),
])
def test_workspace_filters(backend_http, params, expected):
    listed = backend_http.get("/api/v3/workspaces", params=params).json()["results"]
    assert [w["id"] for w in listed] == expected


def test_seeding_twice_on_one_backend_adds_nothing_and_keeps_changes():
    backend = MemoryBackend()
    seed = Seed.load(Settings())
    first = WorkspaceStore(backend, seed, 0)

    async def scenario():
        await first.seed()
        await first.delete_tag(2)
        await first.update_workspace(3, lambda w: w.replace(name="Renamed"))
        restarted = WorkspaceStore(backend, seed, 0)  # another worker, or the same after a restart
        await restarted.seed()
        return await restarted.workspaces(None), await restarted.tags(None)

    workspaces, tags = asyncio.run(scenario())
    assert (len(workspaces), workspaces[3].name) == (4, "Renamed")
    assert sorted(tags) == [1, 3, 4]


# -- the fields and filters of the existing operations -------------------------------------------------------

def test_a_v3_file_has_the_documented_fields(backend_http):
    created = upload(backend_http, "r.pdf", make_pdf(["Page one", "Page two"]), parser="v2.2.1")
    body = get(backend_http, created["id"], include_content="true")
    assert body["signature"].startswith("T1") and len(body["signature"]) == 72
    assert (body["file_size"], body["parser"], body["status_detail"], body["created_by"]["username"]) == \
        (len(make_pdf(["Page one", "Page two"])), "v2.2.1", None, "emulator")
    assert body["content"].split() == ["Page", "one", "Page", "two"]
    assert "content" not in get(backend_http, created["id"])
    broken = upload(backend_http, "b.pdf", b"%PDF-1.4 not a pdf")
    failed = get(backend_http, broken["id"], include_content="true")
    assert (failed["status"], failed["content"]) == ("parsing_failed", None)
    assert "b.pdf" in failed["status_detail"]


def test_v2_files_carry_the_signature(backend_http):
    created = backend_http.post("/api/v2/files", files={"file": ("a.txt", b"same bytes")}).json()
    other = backend_http.post("/api/v2/files", files={"file": ("b.txt", b"same bytes")}).json()
    assert created["signature"] == other["signature"] == get(backend_http, created["id"])["signature"]


@pytest.mark.parametrize("params, expected", [
    pytest.param({"total_pages_min": 2}, ["three.pdf", "two.pdf"], id="pages-min"),
    pytest.param({"total_pages_min": 2, "total_pages_max": 2}, ["two.pdf"], id="pages-range"),
    pytest.param({"uploaded_at_after": "2025-01-01T00:00:02Z"}, ["three.pdf", "two.pdf"],
                 id="uploaded-after"),
    pytest.param({"uploaded_at_before": "2025-01-01T00:00:01Z"}, ["one.txt"], id="uploaded-before"),
    pytest.param({"uploaded_at_before": "2024-12-31"}, [], id="a-day-before"),
    pytest.param({"uploaded_at_after": "2025-01-01", "uploaded_at_before": "2025-01-01"},
                 ["one.txt", "three.pdf", "two.pdf"], id="the-whole-day"),
    pytest.param({"max_documents": 2}, ["three.pdf", "two.pdf"], id="max-documents"),
    pytest.param({"status_vision": "embedded"}, [], id="status-vision"),
])
def test_list_filters_of_the_docs(backend_http, params, expected):
    upload(backend_http, "one.txt", b"one")
    upload(backend_http, "two.pdf", make_pdf(["a", "b"]))
    upload(backend_http, "three.pdf", make_pdf(["a", "b", "c"]))
    listed = backend_http.get("/api/v3/files", params=params)
    assert listed.status_code == 200, listed.text
    assert sorted(f["filename"] for f in listed.json()["results"]) == expected


def test_list_updated_at_follows_a_patch(backend_http):
    first = upload(backend_http, "one.txt", b"one")
    upload(backend_http, "two.txt", b"two")
    backend_http.patch(f"/api/v3/files/{first['id']}", json={"title": "changed"})  # updated_at 00:00:02
    listed = backend_http.get("/api/v3/files", params={"updated_at_after": "2025-01-01T00:00:02Z"}).json()
    assert sorted(f["filename"] for f in listed["results"]) == ["one.txt", "two.txt"]


def test_list_search_answers_the_matching_files_most_relevant_first(backend_http):
    upload(backend_http, "zoo.txt", b"The quokka lives near the entrance. Quokka quokka.")
    upload(backend_http, "menu.txt", b"The canteen serves lunch at noon.")
    upload(backend_http, "guide.txt", b"A short guide mentions the quokka once, among many other animals "
                                      b"such as kangaroos, wombats, koalas and emus of the park.")
    upload(backend_http, "quokka-notes.txt", b"Nothing relevant inside.", title="Quokka notes")
    listed = backend_http.get("/api/v3/files", params={"search": "quokka"}).json()
    assert [f["filename"] for f in listed["results"]] == ["zoo.txt", "guide.txt", "quokka-notes.txt"]
    assert listed["count"] == 3


@pytest.mark.parametrize("params, field", [
    pytest.param({"workspace_id": "abc"}, "workspace_id", id="workspace-id"),
    pytest.param({"tag_id": "x"}, "tag_id", id="tag-id"),
    pytest.param({"max_documents": 0}, "max_documents", id="max-documents-zero"),
    pytest.param({"max_documents": 501}, "max_documents", id="max-documents-501"),
    pytest.param({"uploaded_at_after": "yesterday"}, "uploaded_at_after", id="date"),
    pytest.param({"updated_at_before": "2025-13-45"}, "updated_at_before", id="date-out-of-range"),
    pytest.param({"total_pages_min": -1}, "total_pages_min", id="pages"),
    pytest.param({"status_vision": "done"}, "status_vision", id="status-vision"),
])
def test_bad_list_filters_are_400_naming_the_parameter(backend_http, params, field):
    response = backend_http.get("/api/v3/files", params=params)
    assert response.status_code == 400, response.text
    assert field in response.json()


# -- GET /api/v2/files/{id}/chunks ---------------------------------------------------------------------

def test_v2_chunks_are_the_files_chunks_in_order_with_the_uuids_query_gives(backend_http):
    text = "\n\n".join(f"Paragraph {n}: " + f"words about subject {n}. " * 60 for n in range(4))
    created = backend_http.post("/api/v2/files", files={"file": ("long.txt", text.encode())}).json()
    body = backend_http.get(f"/api/v2/files/{created['id']}/chunks")
    assert body.status_code == 200, body.text
    chunks = body.json()["chunks"]
    assert [c["index"] for c in chunks] == list(range(len(chunks))) and len(chunks) > 1
    assert "".join(c["text"] for c in chunks).replace(" ", "").replace("\n", "") == \
        text.replace(" ", "").replace("\n", "")
    found = backend_http.post("/api/v2/query", json={"query": "subject 2", "n": 1}).json()["chunks"][0]
    assert found["uuid"] in {c["uuid"] for c in chunks}


def test_v2_chunks_of_a_missing_file_is_404(backend_http):
    assert backend_http.get("/api/v2/files/99/chunks").json() == {"detail": "Not found."}


@pytest.mark.parametrize("kind", ["data-dir", "redis"])
def test_a_restart_on_a_persistent_backend_keeps_what_users_changed_and_duplicates_nothing(
        make_server, tmp_path, kind):
    if kind == "redis":
        if not REDIS_URL:
            pytest.skip("needs PARADIGM_TEST_REDIS_URL")
        persistent = {"redis_url": REDIS_URL, "redis_prefix": f"paradigm-test-{uuid.uuid4().hex[:12]}:"}
    else:
        persistent = {"data_dir": tmp_path}
    first = make_server(**persistent)
    with httpx.Client(base_url=first.base_url, headers=AUTH, timeout=10) as http:
        assert http.delete("/api/v3/tags/2").status_code == 204
        assert http.post("/api/v3/tags", json={"name": "new", "description": "x"}).json()["id"] == 5
        assert http.patch("/api/v3/workspaces/3", json={"name": "Legal & Compliance"}).status_code == 200
    first.stop()
    second = make_server(**persistent)  # the same emulator, started again
    with httpx.Client(base_url=second.base_url, headers=AUTH, timeout=10) as http:
        tags = http.get("/api/v3/tags").json()["results"]
        assert sorted(t["id"] for t in tags) == [1, 3, 4, 5]
        workspaces = http.get("/api/v3/workspaces").json()
        legal = http.get("/api/v3/workspaces/3").json()
        assert (workspaces["count"], legal["name"]) == (4, "Legal & Compliance")
        assert http.post("/api/v3/tags", json={"name": "newer", "description": "x"}).json()["id"] == 6
