"""File statuses through real HTTP: Paradigm's vocabulary over --ingest-ms (pending, parsing,
embedding, embedded), the failures a fixture scripts, and status_vision for a file that goes
through vision ingestion (a visual parser, or IS_VISUAL_INGESTION_ON)."""

from __future__ import annotations

import time

import httpx
import pytest
from conftest import KEY, TIMEOUT, frozen_clock

TEXT = b"Employees get 25 days of paid leave a year."
DEADLINE_S = 10.0


def upload_v3(http: httpx.Client, name: str = "leave.txt", **fields: str) -> dict:
    response = http.post("/api/v3/files", files={"file": (name, TEXT)}, data={"workspace_id": "1", **fields})
    assert response.status_code == 201, response.text
    return response.json()


def settled(http: httpx.Client, file_id: int) -> dict:
    deadline = time.monotonic() + DEADLINE_S
    while True:
        body = http.get(f"/api/v3/files/{file_id}").json()
        if body["status"] not in ("pending", "parsing", "embedding") or time.monotonic() > deadline:
            return body
        time.sleep(0.02)


def script(http: httpx.Client, operation: str, ingestion: dict) -> None:
    response = http.post("/_emulator/fixtures", json={
        "match": {"operation": operation}, "response": {"ingestion": ingestion}, "times": 1})
    assert response.status_code in (200, 201), response.text


def test_statuses_walk_the_documented_vocabulary_over_ingest_ms(make_server):
    server = make_server(ingest_ms=900)
    now = [100.0]
    server.emulator.state.now = frozen_clock(now)
    with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {KEY}"},
                      timeout=TIMEOUT) as http:
        plain = upload_v3(http)["id"]
        visual = upload_v3(http, "scan.txt", parser="v2.2.1")["id"]
        now[0] = 100.9  # time is up: these requests wait for both ingestions, whose outcome is then known
        assert [http.get(f"/api/v3/files/{i}").json()["status"] for i in (plain, visual)] == ["embedded"] * 2
        seen = []
        for at in (100.0, 100.2, 100.4, 100.7, 100.9):
            now[0] = at
            bodies = [http.get(f"/api/v3/files/{i}").json() for i in (plain, visual)]
            seen.append((bodies[0]["status"], bodies[0]["status_vision"],
                         bodies[1]["status"], bodies[1]["status_vision"]))
            v2 = http.get(f"/api/v2/files/{plain}").json()
            assert v2["status"] == bodies[0]["status"]  # v2 and v3 tell the same story
    assert seen == [
        ("pending", None, "pending", "pending"),
        ("pending", None, "pending", "pending"),
        ("parsing", None, "parsing", "processing"),
        ("embedding", None, "embedding", "processing"),
        ("embedded", None, "embedded", "embedded"),
    ]


def test_a_file_without_vision_ingestion_has_a_null_status_vision(backend_http):
    created = upload_v3(backend_http, parser="v2.1")
    assert created["status_vision"] is None
    body = settled(backend_http, created["id"])
    assert (body["status"], body["status_vision"]) == ("embedded", None)
    listed = backend_http.get("/api/v3/files", params={"status_vision": "-"}).json()
    assert [f["id"] for f in listed["results"]] == [created["id"]]


def test_a_visual_parser_sets_status_vision_and_the_list_filters_on_it(backend_http):
    text_only = upload_v3(backend_http)["id"]
    visual = upload_v3(backend_http, "scan.txt", parser="v2.2")
    assert visual["status_vision"] == "pending"  # the upload's answer: queued on both pipelines
    assert settled(backend_http, visual["id"])["status_vision"] == "embedded"
    listed = backend_http.get("/api/v3/files", params={"status_vision": "embedded"}).json()
    assert [f["id"] for f in listed["results"]] == [visual["id"]]
    assert settled(backend_http, text_only)["status_vision"] is None


@pytest.mark.parametrize(("pipeline", "flag", "expected"), [
    pytest.param(None, "true", "embedded", id="flag-on"),
    pytest.param("v2.2.1", "false", None, id="flag-off-beats-visual-parser"),
    pytest.param("v2.2.1", None, "embedded", id="visual-pipeline"),
    pytest.param("v2.1", None, None, id="text-pipeline"),
])
def test_upload_sessions_send_a_file_through_vision(backend_http, pipeline, flag, expected):
    session = backend_http.post("/api/v2/upload-session",
                                json={"ingestion_pipeline": pipeline} if pipeline else {}).json()["uuid"]
    fields = {"IS_VISUAL_INGESTION_ON": flag} if flag is not None else {}
    added = backend_http.post(f"/api/v2/upload-session/{session}", files={"file": ("a.txt", TEXT)},
                              data=fields)
    assert added.status_code == 200, added.text
    assert settled(backend_http, added.json()["id"])["status_vision"] == expected


@pytest.mark.parametrize("status", ["embedding_failed", "fail", "parsing_failed"])
def test_a_fixture_scripts_how_an_ingestion_fails(backend_http, status):
    script(backend_http, "POST /api/v3/files", {"status": status, "detail": "The vector store is down."})
    failed = upload_v3(backend_http, parser="v2.2.1")
    assert failed["status"] == "pending"
    body = settled(backend_http, failed["id"])
    assert (body["status"], body["status_detail"], body["status_vision"], body["total_pages"]) == \
        (status, "The vector store is down.", "fail", 0)
    v2 = backend_http.get(f"/api/v2/files/{failed['id']}").json()
    assert (v2["status"], v2["status_details"]) == (status, "The vector store is down.")
    listed = backend_http.get("/api/v3/files", params={"status": status}).json()
    assert [f["id"] for f in listed["results"]] == [failed["id"]]
    # The fixture was used once: the next upload is ingested as usual, and a search sees only it.
    fine = upload_v3(backend_http)
    assert settled(backend_http, fine["id"])["status"] == "embedded"
    found = backend_http.post("/api/v2/query", json={"query": "paid leave", "n": 5}).json()
    assert {c["metadata"]["document_id"] for c in found["chunks"]} == {fine["id"]}


def test_a_fixture_scripts_a_vision_failure_beside_an_embedded_text(backend_http):
    script(backend_http, "POST /api/v2/files", {"status_vision": "fail"})
    created = backend_http.post("/api/v2/files", files={"file": ("a.txt", TEXT)})
    assert created.status_code == 200, created.text
    body = settled(backend_http, created.json()["id"])
    assert (body["status"], body["status_vision"]) == ("embedded", "fail")


def test_an_analysis_of_a_file_whose_embedding_failed_ends_in_error(backend_http):
    script(backend_http, "POST /api/v3/files", {"status": "embedding_failed"})
    file_id = upload_v3(backend_http)["id"]
    assert settled(backend_http, file_id)["status"] == "embedding_failed"
    analysis = backend_http.post("/api/v2/chat/document-analysis",
                                 json={"query": "leave?", "document_ids": [file_id]}).json()
    deadline = time.monotonic() + DEADLINE_S
    while (poll := backend_http.get(f"/api/v2/chat/document-analysis/{analysis['uuid']}").json())[
            "status"] not in ("COMPLETED", "ERROR") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert poll["status"] == "ERROR"
    assert "embedding_failed" in poll["result"]


def test_a_bad_ingestion_script_is_refused_naming_the_field(backend_http):
    response = backend_http.post("/_emulator/fixtures", json={
        "match": {"operation": "POST /api/v3/files"}, "response": {"ingestion": {"status": "exploded"}}})
    assert response.status_code == 400
    assert "ingestion" in response.text
