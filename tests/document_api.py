"""Helpers of the document API tests (upload sessions, analyses, chunk tools, retrieve): uploads and
bounded polls through real HTTP."""

from __future__ import annotations

import time

import httpx
from jsonschema import Draft7Validator

from emulator.config import DEFAULT_SPEC_DIR
from emulator.spec import load_specs

POLL_DEADLINE_S = 10.0
POLL_EVERY_S = 0.01
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
OPERATIONS = {op.operation_id: op for spec in load_specs(DEFAULT_SPEC_DIR) for op in spec.operations}


def conforms(operation_id: str, body, status: str = "200") -> None:
    """``body`` is what the served spec documents for this operation and status."""
    schema = OPERATIONS[operation_id].response_schemas[status]["application/json"]
    errors = [e.message for e in Draft7Validator(schema).iter_errors(body)]
    assert not errors, errors


def upload(http: httpx.Client, name: str, data: bytes, **fields: str) -> int:
    """A v2 upload -> its id."""
    response = http.post("/api/v2/files", files={"file": (name, data)}, data=fields)
    assert response.status_code in (200, 201), response.text
    return response.json()["id"]


def upload_v3_embedded(http: httpx.Client, name: str, data: bytes, workspace_id: int) -> int:
    """A v3 upload into a workspace, once it is embedded -> its id."""
    response = http.post("/api/v3/files", files={"file": (name, data)},
                         data={"workspace_id": str(workspace_id)})
    assert response.status_code == 201, response.text
    file_id = response.json()["id"]
    deadline = time.monotonic() + POLL_DEADLINE_S
    while http.get(f"/api/v3/files/{file_id}").json()["status"] != "embedded":
        assert time.monotonic() < deadline, "the file was not embedded in time"
        time.sleep(POLL_EVERY_S)
    return file_id


def wait_embedded(http: httpx.Client, file_id: int) -> str:
    deadline = time.monotonic() + POLL_DEADLINE_S
    while True:
        status = http.get(f"/api/v2/files/{file_id}").json()["status"]
        if status not in ("pending", "parsing", "embedding") or time.monotonic() > deadline:
            return status
        time.sleep(POLL_EVERY_S)


def poll_analysis(http: httpx.Client, analysis_uuid: str) -> list[dict]:
    """Every answer of GET /chat/document-analysis/{uuid} until it ends (COMPLETED or ERROR)."""
    seen = []
    deadline = time.monotonic() + POLL_DEADLINE_S
    while time.monotonic() < deadline:
        response = http.get(f"/api/v2/chat/document-analysis/{analysis_uuid}")
        assert response.status_code == 200, response.text
        seen.append(response.json())
        if seen[-1]["status"] in ("COMPLETED", "ERROR"):
            return seen
        time.sleep(POLL_EVERY_S)
    raise AssertionError(f"the analysis did not end within {POLL_DEADLINE_S} s: {seen[-1]}")
