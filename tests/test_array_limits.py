"""Lists in request bodies are bounded by the spec's maxItems: one more is a 400 naming the field and
the limit, through real HTTP."""

from __future__ import annotations

import pytest

IDS = 400  # the spec's maxItems for lists of ids (chunks, files, workspaces, tags, tools)
CHOICES = 256  # guided_choice's


@pytest.mark.parametrize("path, body, field", [
    pytest.param("/api/v2/filter/chunks", {"query": "q", "chunk_ids": ["a"] * (IDS + 1)}, "chunk_ids",
                 id="filter-chunk-ids"),
    pytest.param("/api/v2/chat/document-search", {"query": "q", "file_ids": [1] * (IDS + 1)}, "file_ids",
                 id="document-search-file-ids"),
    pytest.param("/api/v3/threads/turns", {"query": "q", "workspace_ids": [1] * (IDS + 1)}, "workspace_ids",
                 id="turn-workspace-ids"),
    pytest.param("/api/v3/retrieve", {"query": "q", "file_ids": [1] * (IDS + 1)}, "file_ids",
                 id="retrieve-file-ids"),
    pytest.param("/api/v3/agents", {"name": "a", "native_tool_ids": ["x"] * (IDS + 1)}, "native_tool_ids",
                 id="agent-tools"),
    pytest.param("/api/v3/agents", {"name": "a", "mcp_server_ids": ["x"] * (IDS + 1)}, "mcp_server_ids",
                 id="agent-mcp-servers"),
    pytest.param("/api/v2/chat/completions",
                 {"model": "alfred-4.2", "messages": [{"role": "user", "content": "hi"}],
                  "guided_choice": ["yes"] * (CHOICES + 1)}, "guided_choice", id="guided-choice"),
])
def test_one_item_too_many_is_a_400_naming_the_field_and_the_limit(backend_http, path, body, field):
    response = backend_http.post(path, json=body)

    assert response.status_code == 400, response.text
    limit = CHOICES if field == "guided_choice" else IDS
    assert f"no more than {limit} elements" in str(response.json()[field])


def test_the_limit_itself_is_accepted(backend_http):
    response = backend_http.post("/api/v2/chat/document-search", json={"query": "q", "file_ids": [1] * IDS})
    assert response.status_code == 400  # the file does not exist: the length itself was fine
    assert "does not exist" in str(response.json()["file_ids"])


def test_tags_added_to_a_file_are_bounded(backend_http):
    created = backend_http.post(
        "/api/v3/files", files={"file": ("a.txt", b"text")}, data={"workspace_id": "1"}
    )
    file_id = created.json()["id"]

    response = backend_http.post(f"/api/v3/files/{file_id}/tags", json={"tags": [1] * (IDS + 1)})

    assert response.status_code == 400
    assert f"no more than {IDS} elements" in str(response.json()["tags"])
