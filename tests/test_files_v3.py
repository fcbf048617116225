"""/api/v3/files, /api/v3/workspaces and /api/v3/tags through real HTTP."""

from __future__ import annotations

import time

import pytest
from sample_documents import make_pdf

POLL_DEADLINE_S = 10.0


def upload(http, name: str, data: bytes, workspace_id: int = 1, **fields) -> dict:
    response = http.post("/api/v3/files", files={"file": (name, data)},
                         data={"workspace_id": str(workspace_id), **fields})
    assert response.status_code == 201, response.text
    return response.json()


def poll(http, file_id: int) -> dict:
    deadline = time.monotonic() + POLL_DEADLINE_S
    while True:
        body = http.get(f"/api/v3/files/{file_id}").json()
        if body["status"] in ("embedded", "parsing_failed") or time.monotonic() > deadline:
            return body
        time.sleep(0.02)


def test_upload_is_queued_then_embedded(http, emulator):
    created = upload(http, "report.pdf", make_pdf(["Page one", "Page two"]), workspace_id=3, title="Report")
    assert (created["status"], created["message"]) == ("pending", "File queued for processing")
    assert created["workspace"] == {"id": 3, "name": "Legal", "workspace_type": "custom"}
    assert (created["title"], created["extension"], created["created_at"]) == \
        ("Report", "pdf", "2025-01-01T00:00:01Z")
    done = poll(http, created["id"])
    assert (done["status"], done["total_pages"]) == ("embedded", 2)
    assert "message" not in done


def test_tags_are_assigned_at_upload(http, emulator):
    created = upload(http, "c.txt", b"contract", tags=["1", "3"])
    assert created["tags"] == [{"id": 1, "name": "contract", "auto_assigned": False},
                               {"id": 3, "name": "invoice", "auto_assigned": True}]


def test_v2_and_v3_share_one_store(http, emulator):
    v3 = upload(http, "shared.txt", b"shared")
    assert [f["id"] for f in http.get("/api/v2/files").json()["data"]] == [v3["id"]]
    v2 = http.post("/api/v2/files", files={"file": ("other.txt", b"other")}).json()
    assert [f["id"] for f in http.get("/api/v3/files").json()["results"]] == [v2["id"], v3["id"]]


@pytest.mark.parametrize("params, expected", [
    pytest.param({}, ["a.pdf", "b.txt", "c.TXT", "notes.md"], id="all"),
    pytest.param({"workspace_id": "3,4"}, ["b.txt", "c.TXT"], id="workspaces"),
    pytest.param({"extension": "txt,.md"}, ["b.txt", "c.TXT", "notes.md"], id="extensions"),
    pytest.param({"filename": "NOTE"}, ["notes.md"], id="filename"),
    pytest.param({"title": "budget"}, ["b.txt"], id="title"),
    pytest.param({"tag_id": "2"}, ["a.pdf", "c.TXT"], id="tag"),
    pytest.param({"status": "parsing_failed"}, ["a.pdf"], id="status"),
    pytest.param({"status": "embedded", "workspace_id": "1"}, ["notes.md"], id="combined"),
])
def test_list_filters(http, emulator, params, expected):
    upload(http, "a.pdf", b"not a pdf", tags=["2"])
    upload(http, "b.txt", b"b", workspace_id=3, title="Budget 2025")
    upload(http, "c.TXT", b"c", workspace_id=4, tags=["2"])
    upload(http, "notes.md", b"n")
    listed = http.get("/api/v3/files", params=params).json()
    assert sorted(f["filename"] for f in listed["results"]) == expected
    assert listed["count"] == len(expected)


def test_list_pages_of_20(http, emulator):
    for n in range(21):
        upload(http, f"{n}.txt", b"x")
    first = http.get("/api/v3/files").json()
    assert (first["count"], len(first["results"]), first["previous"]) == (21, 20, None)
    assert first["next"].endswith("/api/v3/files?page=2")
    second = http.get("/api/v3/files", params={"page": 2}).json()
    assert ([f["id"] for f in second["results"]], second["next"]) == ([1], None)


def test_delete_is_204_then_404(http, emulator):
    created = upload(http, "a.txt", b"a")
    deleted = http.delete(f"/api/v3/files/{created['id']}")
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert http.get(f"/api/v3/files/{created['id']}").json() == {"detail": "Not found."}
    assert http.delete(f"/api/v3/files/{created['id']}").status_code == 404


@pytest.mark.parametrize("data, field, message", [
    pytest.param({}, "workspace_id", "This field is required.", id="no-workspace"),
    pytest.param({"workspace_id": "99"}, "workspace_id", 'Invalid pk "99" - object does not exist.',
                 id="unknown"),
    pytest.param({"workspace_id": "x"}, "workspace_id", "A valid integer is required.", id="wrong-type"),
    pytest.param({"workspace_id": "1", "tags": ["7"]}, "tags", 'Invalid pk "7" - object does not exist.',
                 id="unknown-tag"),
])
def test_bad_uploads_are_400_naming_the_field(http, emulator, data, field, message):
    response = http.post("/api/v3/files", files={"file": ("a.txt", b"a")}, data=data)
    assert response.status_code == 400
    assert message in response.json()[field]


def test_a_missing_file_part_is_400(http, emulator):
    response = http.post("/api/v3/files", files={"other": ("a.txt", b"a")}, data={"workspace_id": "1"})
    assert (response.status_code, response.json()) == (400, {"file": ["This field is required."]})


@pytest.mark.parametrize("params, field", [
    pytest.param({"workspace_id": "one"}, "workspace_id", id="workspace-csv"),
    pytest.param({"tag_id": "1,x"}, "tag_id", id="tag-csv"),
    pytest.param({"status": "done"}, "status", id="status-choice"),
    pytest.param({"page": "0"}, "page", id="page"),
    pytest.param({"uploaded_at_after": "0000-00-00"}, "uploaded_at_after", id="no-such-day"),
    pytest.param({"updated_at_before": "2026-02-30"}, "updated_at_before", id="february-30"),
    pytest.param({"uploaded_at_before": "yesterday"}, "uploaded_at_before", id="not-a-date"),
])
def test_bad_filters_are_400_naming_the_parameter(http, emulator, params, field):
    response = http.get("/api/v3/files", params=params)
    assert response.status_code == 400
    assert field in response.json()


def test_workspaces_list_the_personal_company_and_fixture_ones(http, emulator):
    upload(http, "a.txt", b"a", workspace_id=3)
    body = http.get("/api/v3/workspaces").json()
    assert [(w["id"], w["workspace_type"]) for w in body["results"]] == \
        [(1, "personal"), (2, "company"), (3, "custom"), (4, "custom")]
    assert [w["file_count"] for w in body["results"]] == [0, 0, 1, 0]
    legal = http.get("/api/v3/workspaces", params={"workspace_type": "custom", "name": "leg"}).json()
    assert [w["name"] for w in legal["results"]] == ["Legal"]


def test_workspaces_page_size(http, emulator):
    body = http.get("/api/v3/workspaces", params={"page_size": 3, "page": 2}).json()
    assert ([w["id"] for w in body["results"]], body["count"], body["next"]) == ([4], 4, None)


@pytest.mark.parametrize("params, expected", [
    pytest.param({}, ["specification", "invoice", "policy", "contract"], id="newest-first"),
    pytest.param({"artificial": "true"}, ["invoice"], id="artificial"),
    pytest.param({"tag": "CON"}, ["contract"], id="partial-name"),
])
def test_tags(http, emulator, params, expected):
    body = http.get("/api/v3/tags", params=params).json()
    assert [t["name"] for t in body["results"]] == expected
    assert set(body["results"][0]) == {"id", "created_at", "updated_at", "name", "description", "auto_assign",
                                       "document_count", "tag", "artificial"}
    assert all((t["tag"], t["artificial"]) == (t["name"], t["auto_assign"]) for t in body["results"])


@pytest.mark.parametrize("value", ["2026-01-31", "2026-01-31T09:30:00Z", "2026-01-31T09:30:00.5+02:00"])
def test_date_filters_take_a_date_or_a_date_time(http, emulator, value):
    upload(http, "a.txt", b"a")
    response = http.get("/api/v3/files", params={"uploaded_at_after": value, "updated_at_before": value})
    assert response.status_code == 200, response.text
