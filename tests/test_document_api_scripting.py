"""The document API is scriptable like every other operation: a fixture naming one of its operations
(by alias, path or operationId; from the control API, a fixture file or the pytest plugin) makes it
fail, slow down or carry headers, and a scripted failure stores nothing."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest
from conftest import KEY, TIMEOUT

BUSY = {"detail": "Scripted: try again later."}
# (a name a fixture may use, the request it answers)
OPERATIONS = [
    pytest.param("upload-session", "POST", "/api/v2/upload-session", {}, id="alias"),
    pytest.param(
        "/api/v2/upload-session/deactivate", "POST", "/api/v2/upload-session/deactivate", {}, id="path"
    ),
    pytest.param(
        "api_v2_upload_session_retrieve",
        "GET",
        f"/api/v2/upload-session/{uuid.UUID(int=1)}",
        {},
        id="operation-id",
    ),
    pytest.param(
        "upload-session/{uuid}", "DELETE", f"/api/v2/upload-session/{uuid.UUID(int=1)}", {}, id="alias-uuid"
    ),
    pytest.param(
        "chat/document-analysis",
        "POST",
        "/api/v2/chat/document-analysis",
        {"query": "q", "document_ids": [1]},
        id="analysis",
    ),
    pytest.param(
        "chat/document-analysis/{uuid}",
        "GET",
        f"/api/v2/chat/document-analysis/{uuid.UUID(int=1)}",
        {},
        id="analysis-poll",
    ),
    pytest.param(
        "tools/document-analysis/{analysis_uuid}/status",
        "GET",
        f"/api/v2/tools/document-analysis/{uuid.UUID(int=1)}/status/",
        {},
        id="analysis-status",
    ),
    pytest.param(
        "chat/image-analysis",
        "POST",
        "/api/v2/chat/image-analysis",
        {"query": "q", "document_ids": [1]},
        id="image-analysis",
    ),
    pytest.param(
        "filter/chunks",
        "POST",
        "/api/v2/filter/chunks",
        {"query": "q", "chunk_ids": [str(uuid.UUID(int=1))]},
        id="filter",
    ),
    pytest.param(
        "query/reformulation", "POST", "/api/v2/query/reformulation", {"query": "q"}, id="reformulation"
    ),
    pytest.param("retrieve", "POST", "/api/v3/retrieve", {"query": "q"}, id="retrieve"),
]


@pytest.fixture
def control(on_backend):
    with httpx.Client(base_url=on_backend.base_url + "/_emulator", timeout=TIMEOUT) as c:
        yield c


def send(http, method: str, path: str, body: dict) -> httpx.Response:
    return http.request(method, path, json=body if method == "POST" else None)


@pytest.mark.parametrize("name, method, path, body", OPERATIONS)
def test_a_fixture_naming_the_operation_makes_it_fail(control, backend_http, name, method, path, body):
    fixture = {
        "name": "busy",
        "match": {"operation": name},
        "response": {"error": {"status": 503, "body": BUSY}},
    }
    assert control.post("/fixtures", json=fixture).status_code in (200, 201)
    response = send(backend_http, method, path, body)
    assert (response.status_code, response.json()) == (503, BUSY)


def test_a_scripted_failure_stores_nothing(control, backend_http):
    first = backend_http.post("/api/v2/upload-session").json()["uuid"]
    control.post("/reset").raise_for_status()
    control.post(
        "/fixtures",
        json={
            "name": "down",
            "times": 1,
            "match": {"operation": "upload-session"},
            "response": {"error": {"status": 500}},
        },
    )
    assert backend_http.post("/api/v2/upload-session").status_code == 500
    assert backend_http.post("/api/v2/upload-session").json()["uuid"] == first  # no number was taken


def test_a_fixture_adds_headers_and_a_delay_to_the_real_answer(control, backend_http):
    control.post(
        "/fixtures",
        json={
            "name": "slow",
            "match": {"operation": "query/reformulation"},
            "response": {"headers": {"X-Scripted": "yes"}, "delay_ms": 200},
        },
    )
    started = time.monotonic()
    response = backend_http.post("/api/v2/query/reformulation", json={"query": "Where is the harbour?"})
    assert time.monotonic() - started >= 0.2
    assert response.headers["X-Scripted"] == "yes"
    assert response.json() == [{"query": "Where is the harbour?", "reformulation": "harbour"}]


def test_a_fixture_file_scripts_the_document_api(make_server, tmp_path):
    (tmp_path / "analysis.yaml").write_text(
        "- name: analysis-throttled\n"
        "  match: {operation: chat/document-analysis}\n"
        "  response: {error: {status: 429, headers: {Retry-After: '3'}}}\n"
    )
    server = make_server(fixtures_dir=tmp_path)
    with httpx.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=TIMEOUT
    ) as http:
        response = http.post("/api/v2/chat/document-analysis", json={"query": "q", "document_ids": [1]})
    assert response.status_code == 429 and response.headers["Retry-After"] == "3"
    assert "throttled" in response.json()["detail"]


def test_the_plugin_scripts_the_document_api(paradigm_emulator):
    paradigm_emulator.on("retrieve").fail(429, retry_after=1)
    with httpx.Client(
        base_url=paradigm_emulator.root_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=TIMEOUT
    ) as http:
        assert http.post("/api/v3/retrieve", json={"query": "q"}).status_code == 429
        assert http.post("/api/v2/query/reformulation", json={"query": "q"}).status_code == 200


def test_the_plugin_journal_names_the_document_api_operations(paradigm_emulator):
    with httpx.Client(
        base_url=paradigm_emulator.root_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=TIMEOUT
    ) as http:
        http.post("/api/v2/upload-session", json={"ingestion_pipeline": "v3.0"})
        http.post("/api/v2/query/reformulation", json={"query": ["a", "b"]})
    paradigm_emulator.assert_called("upload-session", ingestion_pipeline="v3.0")
    paradigm_emulator.assert_called("api_v2_query_reformulation_create")
    paradigm_emulator.assert_called("/api/v3/retrieve", times=0)
