"""How to test an application that asks a Paradigm agent about uploaded documents.

The application uploads a file (v3 files), asks the default agent about it in a new thread
(``POST /api/v3/threads/turns`` with ``file_ids``), polls on a 202, and shows the answer with
the documents it cites. Against the emulator the agent really searches the uploaded file, so
the test can check the citation; ``on_turn`` scripts an answer when the test is about the
application's handling of it (a failure, a slow turn).
"""

from __future__ import annotations

import time

import httpx
import pytest

POLICY = b"Expense policy. Meals are reimbursed up to 25 euros per day on business trips."


class DocumentAssistant:
    """The code under test: a thin client of Paradigm's v3 agent API."""

    def __init__(self, root_url: str, api_key: str):
        self.http = httpx.Client(
            base_url=root_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=10
        )

    def upload(self, name: str, data: bytes) -> int:
        file_id = self.http.post(
            "/api/v3/files", files={"file": (name, data)}, data={"workspace_id": "1"}
        ).json()["id"]
        while self.http.get(f"/api/v3/files/{file_id}").json()["status"] != "embedded":
            time.sleep(0.01)
        return file_id

    def ask(self, question: str, file_ids: list[int]) -> tuple[str, list[str]]:
        """-> (the answer, the names of the documents it cites); raises on a failed turn."""
        response = self.http.post("/api/v3/threads/turns", json={"query": question, "file_ids": file_ids})
        turn = response.json()
        while turn["status"] == "running":  # 202: poll the thread's turns
            time.sleep(0.01)
            turn = self.http.get(f"/api/v3/threads/{turn['thread']}/turns").json()["results"][-1]
        if turn["status"] == "failed":
            raise RuntimeError(turn["error"]["message"])
        parts = turn["messages"][-1]["parts"]
        cited = [source["document_name"] for part in parts if part["type"] == "tool_call"
                 for source in part["tool_call"]["result"]["chunk_sources"]]
        return parts[-1]["text"], cited

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def app(paradigm_emulator):
    assistant = DocumentAssistant(paradigm_emulator.root_url, paradigm_emulator.api_key)
    yield assistant
    assistant.close()


def test_the_answer_cites_the_uploaded_policy(paradigm_emulator, app):
    policy = app.upload("expenses.txt", POLICY)

    answer, cited = app.ask("How much are meals reimbursed per day?", [policy])

    assert "25 euros" in answer
    assert cited[0] == "expenses.txt"
    paradigm_emulator.assert_called("turn", file_ids=[policy])


def test_a_failed_turn_reaches_the_caller(paradigm_emulator, app):
    paradigm_emulator.on_turn(contains="meals").fail("The agent is unavailable.", code="unavailable")

    try:
        app.ask("meals?", [])
    except RuntimeError as exc:
        assert str(exc) == "The agent is unavailable."
    else:
        raise AssertionError("a failed turn must raise")
