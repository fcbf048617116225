"""One table of operation names: a fixture's match.operation, the journal's ?operation= and
assert_called take the same names and mean the same operations by them."""

from __future__ import annotations

import httpx
import pytest
from conftest import TIMEOUT

from emulator.operations import names_match
from emulator.testing.requests import RequestLog

CHAT_V3 = {"model": "alfred-4.2", "messages": [{"role": "user", "content": "Which one?"}]}


@pytest.mark.parametrize("name", ["chat", "/chat/completions", "/api/v3/chat/completions",
                                  "api_v3_chat_completions_create", "POST /chat/completions"])
def test_a_name_means_the_same_operation_to_fixtures_the_journal_and_assert_called(http, emulator, server,
                                                                                   name):
    emulator.scripts.add({"match": {"operation": name}, "response": {"content": "Scripted."}})
    answered = http.post("/api/v3/chat/completions", json=CHAT_V3)
    assert answered.json()["choices"][0]["message"]["content"] == "Scripted."
    http.get("/api/v2/models")
    journal = httpx.get(server.base_url + "/_emulator/journal", params={"operation": name}, timeout=TIMEOUT)
    assert [e["path"] for e in journal.json()["requests"]] == ["/api/v3/chat/completions"]
    log = RequestLog(emulator.journal.entries)
    assert [r.path for r in log.assert_called(name)] == ["/api/v3/chat/completions"]


def test_a_method_narrows_a_name(http, emulator):
    http.get("/api/v2/files")
    log = RequestLog(emulator.journal.entries)
    assert log.assert_called("GET files") and log.assert_called("POST files", times=0) == ()


@pytest.mark.parametrize(
    "method, path, operation_id",
    [("POST", "/api/v3/threads/{thread_id}/turns", "createThreadTurn"),
     ("POST", "/api/v3/threads/turns", "createThreadAndTurn"),
     ("POST", "/api/v3/threads/7/turns/", "createTurn")],
)
def test_turn_names_every_turn_creation(method, path, operation_id):
    assert names_match("turn", method, path, operation_id)


def test_turn_does_not_name_other_operations():
    # A poll of a thread's turns is not a turn: assert_called("turn", times=1) holds however often it polls.
    assert not names_match("turn", "GET", "/api/v3/threads/7/turns", "listTurns")
    assert not names_match("turn", "POST", "/api/v3/threads", "createThread")
    assert not names_match("turn", "POST", "/api/v3/chat/completions", "api_v3_chat_completions_create")
