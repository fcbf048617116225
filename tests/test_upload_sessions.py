"""v2 upload sessions through real HTTP, on both state backends: create, add files (PDF, DOCX), follow
their ingestion, deactivate, delete; and every refusal DRF would give."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest
from conftest import KEY, TIMEOUT, backend_overrides
from document_api import DOCX_TYPE, POLL_DEADLINE_S, POLL_EVERY_S, conforms
from sample_documents import make_docx, make_pdf

PDF = make_pdf(["The lighthouse keeper logs every passing ship.", "Storms are recorded on page two."])
DOCX = make_docx([["The orchard grows seventeen kinds of apple."], ["Harvest begins in September."]])


def new_session(http, **body) -> dict:
    response = http.post("/api/v2/upload-session", json=body)
    assert response.status_code == 201, response.text
    conforms("api_v2_upload_session_create", response.json(), "201")
    return response.json()


def add(http, session: str, name: str, data: bytes, content_type: str = "application/octet-stream", **fields):
    return http.post(
        f"/api/v2/upload-session/{session}", files={"file": (name, data, content_type)}, data=fields
    )


def wait_session_embedded(http, session: str) -> dict:
    deadline = time.monotonic() + POLL_DEADLINE_S
    while True:
        body = http.get(f"/api/v2/upload-session/{session}").json()
        if (
            all(d["status"] not in ("pending", "parsing", "embedding") for d in body["documents"])
            or time.monotonic() > deadline
        ):
            return body
        time.sleep(POLL_EVERY_S)


def file_count(http) -> int:
    return http.get("/api/v2/files").json()["count"]


def test_create_answers_the_documented_session(backend_http):
    session = new_session(backend_http, ingestion_pipeline="v2.2.1")
    assert set(session) >= {"uuid", "is_valid", "created_at", "updated_at", "documents"}
    assert uuid.UUID(session["uuid"]).version == 4
    assert (session["is_valid"], session["documents"], session["ingestion_pipeline"]) == (True, [], "v2.2.1")
    assert session["created_at"].endswith("Z")


def test_create_without_a_body_is_a_session_too(backend_http):
    response = backend_http.post("/api/v2/upload-session")
    assert response.status_code == 201 and response.json()["ingestion_pipeline"] is None


def test_an_unknown_ingestion_pipeline_is_a_400_naming_it(backend_http):
    response = backend_http.post("/api/v2/upload-session", json={"ingestion_pipeline": "v9"})
    assert response.status_code == 400
    assert response.json() == {"ingestion_pipeline": ['"v9" is not a valid choice.']}


def test_session_uuids_are_the_same_after_a_reset(backend_http, on_backend):
    first = new_session(backend_http)["uuid"]
    httpx.post(on_backend.base_url + "/_emulator/reset", timeout=TIMEOUT).raise_for_status()
    assert new_session(backend_http)["uuid"] == first


def test_files_added_are_ingested_and_listed_with_their_status(backend_http):
    session = new_session(backend_http, ingestion_pipeline="v3.0")["uuid"]
    first = add(backend_http, session, "lighthouse.pdf", PDF, "application/pdf", title="Lighthouse log")
    second = add(backend_http, session, "orchard.docx", DOCX, DOCX_TYPE, collection_type="company")
    assert first.status_code == 200 and second.status_code == 200
    assert set(first.json()) == {"message", "id"} and first.json()["id"] != second.json()["id"]
    body = wait_session_embedded(backend_http, session)
    conforms("api_v2_upload_session_retrieve", body)
    documents = {d["id"]: d for d in body["documents"]}
    assert list(documents) == [first.json()["id"], second.json()["id"]]
    assert [d["status"] for d in documents.values()] == ["embedded", "embedded"]
    assert documents[first.json()["id"]]["title"] == "Lighthouse log"
    assert documents[second.json()["id"]]["collection"] != documents[first.json()["id"]]["collection"]
    assert set(documents[first.json()["id"]]) == {
        "id",
        "title",
        "collection",
        "status",
        "updated_at",
        "workspace",
    }


def test_a_file_added_to_a_session_is_an_ordinary_file(backend_http):
    session = new_session(backend_http)["uuid"]
    file_id = add(backend_http, session, "orchard.docx", DOCX, DOCX_TYPE).json()["id"]
    wait_session_embedded(backend_http, session)
    file = backend_http.get(f"/api/v2/files/{file_id}", params={"include_content": "true"}).json()
    assert file["status"] == "embedded" and file["total_pages"] == 2
    assert "seventeen kinds of apple" in file["content"]
    found = backend_http.post("/api/v2/query", json={"query": "seventeen kinds of apple", "n": 1}).json()
    found = found if isinstance(found, dict) else found[0]
    assert found["chunks"][0]["metadata"]["document_id"] == file_id


def test_a_v3_file_names_the_session_it_was_uploaded_in(backend_http):
    session = new_session(backend_http)["uuid"]
    file_id = add(backend_http, session, "orchard.docx", DOCX, DOCX_TYPE).json()["id"]
    assert backend_http.get(f"/api/v3/files/{file_id}").json()["upload_session_uuid"] == session


def test_a_file_deleted_through_files_leaves_the_session(backend_http):
    session = new_session(backend_http)["uuid"]
    gone = add(backend_http, session, "lighthouse.pdf", PDF).json()["id"]
    kept = add(backend_http, session, "orchard.docx", DOCX, DOCX_TYPE).json()["id"]
    assert backend_http.delete(f"/api/v2/files/{gone}").status_code == 200
    assert [d["id"] for d in wait_session_embedded(backend_http, session)["documents"]] == [kept]


def test_a_deactivated_session_refuses_files_and_stores_nothing(backend_http):
    session = new_session(backend_http)["uuid"]
    other = new_session(backend_http)["uuid"]
    response = backend_http.post("/api/v2/upload-session/deactivate")
    assert response.status_code == 200 and set(response.json()["deactivated"]) == {session, other}
    assert backend_http.get(f"/api/v2/upload-session/{session}").json()["is_valid"] is False
    refused = add(backend_http, session, "lighthouse.pdf", PDF)
    assert refused.status_code == 400
    assert "deactivated" in refused.json()["non_field_errors"][0]
    assert file_count(backend_http) == 0
    assert backend_http.get(f"/api/v2/upload-session/{session}").json()["documents"] == []


def test_deactivate_leaves_the_sessions_already_invalid_out(backend_http):
    new_session(backend_http)
    backend_http.post("/api/v2/upload-session/deactivate")
    assert backend_http.post("/api/v2/upload-session/deactivate").json()["deactivated"] == []


def test_delete_removes_the_session_and_its_documents(backend_http):
    session = new_session(backend_http)["uuid"]
    file_id = add(backend_http, session, "lighthouse.pdf", PDF).json()["id"]
    kept = backend_http.post("/api/v2/files", files={"file": ("kept.txt", b"Not in the session.")}).json()[
        "id"
    ]
    response = backend_http.delete(f"/api/v2/upload-session/{session}")
    assert response.status_code == 204 and response.content == b""
    assert backend_http.get(f"/api/v2/upload-session/{session}").status_code == 404
    assert backend_http.get(f"/api/v2/files/{file_id}").status_code == 404
    assert backend_http.get(f"/api/v2/files/{kept}").status_code == 200


def test_a_deleted_session_refuses_files_with_not_found(backend_http):
    session = new_session(backend_http)["uuid"]
    backend_http.delete(f"/api/v2/upload-session/{session}")
    response = add(backend_http, session, "lighthouse.pdf", PDF)
    assert (response.status_code, response.json()) == (404, {"detail": "Not found."})
    assert file_count(backend_http) == 0


@pytest.mark.parametrize("method", ["get", "delete", "post"])
@pytest.mark.parametrize("key", [str(uuid.UUID(int=7)), "not-a-uuid"], ids=["unknown", "not-a-uuid"])
def test_an_unknown_session_is_not_found(backend_http, method, key):
    kwargs = {"files": {"file": ("a.txt", b"text")}} if method == "post" else {}
    response = getattr(backend_http, method)(f"/api/v2/upload-session/{key}", **kwargs)
    assert (response.status_code, response.json()) == (404, {"detail": "Not found."})


@pytest.mark.parametrize(
    "files, data, field",
    [
        pytest.param(None, {"title": "no file"}, "file", id="no-file"),
        pytest.param({"file": ("a.txt", b"")}, {}, "file", id="empty-file"),
        pytest.param(
            {"file": ("a.txt", b"text")}, {"workspace_id": "9999"}, "workspace_id", id="unknown-workspace"
        ),
        pytest.param(
            {"file": ("a.txt", b"text")},
            {"collection_type": "shared"},
            "collection_type",
            id="wrong-collection-type",
        ),
        pytest.param(
            {"file": ("a.txt", b"text")}, {"chunk_size": "big"}, "chunk_size", id="chunk-size-not-int"
        ),
        pytest.param({"file": ("a.txt", b"text")}, {"title": "t" * 256}, "title", id="title-too-long"),
    ],
)
def test_a_bad_file_is_a_400_naming_the_field_and_stores_nothing(backend_http, files, data, field):
    session = new_session(backend_http)["uuid"]
    response = backend_http.post(
        f"/api/v2/upload-session/{session}", files=files or {"other": ("x", b"")}, data=data
    )
    assert response.status_code == 400, response.text
    assert field in response.json()
    assert file_count(backend_http) == 0
    assert backend_http.get(f"/api/v2/upload-session/{session}").json()["documents"] == []


def test_a_json_body_is_415_for_a_file(backend_http):
    session = new_session(backend_http)["uuid"]
    response = backend_http.post(f"/api/v2/upload-session/{session}", json={"title": "x"})
    assert response.status_code == 415


def test_documents_go_pending_to_embedded_with_ingest_ms(make_server):
    server = make_server(ingest_ms=2000)
    with httpx.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=TIMEOUT
    ) as http:
        session = new_session(http)["uuid"]
        add(http, session, "lighthouse.pdf", PDF)
        assert http.get(f"/api/v2/upload-session/{session}").json()["documents"][0]["status"] == "pending"
        assert wait_session_embedded(http, session)["documents"][0]["status"] == "embedded"


def test_a_session_is_the_same_on_every_worker_of_one_redis(make_server):
    """Two servers sharing one Redis (as two workers do): a session made on one is used on the other."""
    overrides = backend_overrides("redis")
    first, second = make_server(**overrides), make_server(**overrides)
    headers = {"Authorization": f"Bearer {KEY}"}
    with (
        httpx.Client(base_url=first.base_url, headers=headers, timeout=TIMEOUT) as a,
        httpx.Client(base_url=second.base_url, headers=headers, timeout=TIMEOUT) as b,
    ):
        session = new_session(a)["uuid"]
        assert add(b, session, "lighthouse.pdf", PDF).status_code == 200
        assert [d["status"] for d in wait_session_embedded(a, session)["documents"]] == ["embedded"]


def test_deactivate_is_not_a_session(backend_http):
    response = backend_http.get("/api/v2/upload-session/deactivate")
    assert response.status_code == 405 and response.headers["Allow"] == "POST"
