"""A turn's document tools over the file store, the tool_call parts they show and GET /api/v3/sources."""

from __future__ import annotations

from tests.document_api import upload_v3_embedded

TURNS = "/api/v3/threads/turns"
REFUNDS = (b"Refund policy. Customers may ask for a refund within 30 days of purchase. "
           b"Refunds are paid back to the original card within five business days.")
HOLIDAYS = b"Holiday policy. Every employee has twenty-five days of paid holidays each year."


def upload(http, name: str, data: bytes, workspace_id: int = 3) -> int:
    return upload_v3_embedded(http, name, data, workspace_id)


def _tool_parts(turn: dict) -> list[dict]:
    return [p["tool_call"] for p in turn["messages"][1]["parts"] if p["type"] == "tool_call"]


def test_a_turn_over_uploaded_files_searches_them_and_cites_the_right_file(backend_http):
    refunds = upload(backend_http, "refunds.txt", REFUNDS)
    upload(backend_http, "holidays.txt", HOLIDAYS)

    turn = backend_http.post(TURNS, json={"query": "How many days do customers have to ask for a refund?",
                                          "workspace_ids": [3]}).json()

    (call,) = _tool_parts(turn)
    assert call["tool"]["name"] == "document_search"
    assert call["tool_args"]["query"].startswith("How many days")
    assert [s["status"] for s in call["steps"]][-1] == "completed"
    assert call["steps"][-1]["progress_report"]["progress_percentage"] == 100.0
    assert call["result"]["chunk_sources"][0]["document_id"] == refunds
    answer = turn["messages"][1]["parts"][-1]
    assert answer["type"] == "text" and "refunds.txt" in answer["text"] and "30 days" in answer["text"]


def test_sources_of_a_turn_name_its_thread_and_chunks(backend_http):
    refunds = upload(backend_http, "refunds.txt", REFUNDS)
    turn = backend_http.post(
        TURNS, json={"query": "refund within how many days?", "file_ids": [refunds]}
    ).json()

    sources = backend_http.get(
        "/api/v3/sources", params={"thread_id": turn["thread"], "turn_id": turn["id"]}
    ).json()

    assert sources["web"] == []
    first = sources["document"][0]
    assert first["thread_id"] == turn["thread"] and first["document_id"] == refunds
    assert first["used_for_generation"] is True
    assert set(first) >= {
        "id",
        "document_chunk",
        "certainty",
        "distance",
        "page_start",
        "page_end",
        "created_at",
    }
    only_web = backend_http.get("/api/v3/sources", params={"thread_id": turn["thread"], "source_type": "web"})
    assert only_web.json() == {"document": [], "web": []}


def test_no_file_in_scope_means_no_tool_call(backend_http):
    turn = backend_http.post(TURNS, json={"query": "refund?", "workspace_ids": [4]}).json()

    assert _tool_parts(turn) == []
    assert backend_http.get("/api/v3/sources", params={"turn_id": turn["id"]}).json()["document"] == []


def test_immediate_final_answer_skips_the_tool(backend_http):
    refunds = upload(backend_http, "refunds.txt", REFUNDS)

    turn = backend_http.post(TURNS, json={"query": "refund?", "file_ids": [refunds],
                                          "immediate_final_answer": True}).json()

    assert _tool_parts(turn) == []


def test_forcing_document_search_searches_every_file_in_reach(backend_http):
    upload(backend_http, "refunds.txt", REFUNDS)

    turn = backend_http.post(TURNS, json={"query": "refund days", "force_tool": "document_search"}).json()

    assert [c["tool"]["name"] for c in _tool_parts(turn)] == ["document_search"]
    assert turn["messages"][0]["force_tool"]["name"] == "document_search"


def test_forcing_document_analysis_analyses_the_named_files(backend_http):
    refunds = upload(backend_http, "refunds.txt", REFUNDS)
    holidays = upload(backend_http, "holidays.txt", HOLIDAYS)

    turn = backend_http.post(TURNS, json={"query": "Summarise", "force_tool": "document_analysis",
                                          "file_ids": [refunds, holidays]}).json()

    (call,) = _tool_parts(turn)
    assert call["tool"]["name"] == "document_analysis"
    assert "refunds.txt" in call["result"]["text"] and "holidays.txt" in call["result"]["text"]


def test_an_agent_without_document_search_does_not_search(backend_http):
    refunds = upload(backend_http, "refunds.txt", REFUNDS)
    agent = backend_http.post("/api/v3/agents", json={"name": "Plain", "native_tool_ids": []}).json()

    turn = backend_http.post(
        TURNS, json={"query": "refund?", "file_ids": [refunds], "agent_id": agent["id"]}
    ).json()

    assert _tool_parts(turn) == []
