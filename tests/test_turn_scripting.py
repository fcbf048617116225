"""Scripted turns: the fixture format's `operation: turn`, the control API, the plugin, the journal."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import httpx

from tests.conftest import KEY, TIMEOUT

UNUSED = {"reasoning": None, "tool_call": None, "document": None, "workspace": None}  # a Part's other fields

TURNS = "/api/v3/threads/turns"
EXAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "examples" / "07_turns.yaml"


def _http(server) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=TIMEOUT)


def test_a_scripted_multi_turn_conversation_follows_the_turn_index(make_server, tmp_path):
    shutil.copy(EXAMPLE, tmp_path / "turns.yaml")
    with _http(make_server(fixtures_dir=tmp_path)) as http:
        first = http.post(TURNS, json={"query": "How do I get a refund?"}).json()
        second = http.post(f"/api/v3/threads/{first['thread']}/turns", json={"query": "And when?"}).json()

    call = first["messages"][1]["parts"][0]["tool_call"]
    assert call["tool_args"] == {"query": "How do I get a refund?"}
    assert call["result"]["text"] == "Customers may ask for a refund within 30 days."
    assert call["result"]["chunk_sources"][0]["document_id"] == 1
    assert first["messages"][1]["parts"][-1] == {
        "type": "text",
        "text": "You have 30 days to ask for a refund.",
        **UNUSED,
    }
    assert second["messages"][1]["parts"] == [
        {"type": "text", "text": "The refund reaches your card within five business days.", **UNUSED}]


def test_a_scripted_failure_ends_the_turn_failed(make_server, tmp_path):
    shutil.copy(EXAMPLE, tmp_path / "turns.yaml")
    with _http(make_server(fixtures_dir=tmp_path)) as http:
        response = http.post(TURNS, json={"query": "is there an outage?"})

    assert response.status_code == 200
    turn = response.json()
    assert turn["status"] == "failed"
    assert turn["error"] == {"code": "model_unavailable", "message": "The model is unavailable."}


def test_a_scripted_duration_gives_202_and_polling(make_server, tmp_path):
    shutil.copy(EXAMPLE, tmp_path / "turns.yaml")
    with _http(make_server(fixtures_dir=tmp_path, turn_wait_ms=20)) as http:
        response = http.post(TURNS, json={"query": "Analyse", "force_tool": "document_analysis"})
        assert response.status_code == 202
        thread = response.json()["thread"]
        assert http.get(f"/api/v3/threads/{thread}").json()["status"] == "running"


def test_the_control_api_scripts_a_turn_by_agent(on_backend, backend_http):
    httpx.post(
        on_backend.base_url + "/_emulator/fixtures",
        timeout=TIMEOUT,
        json={"match": {"operation": "turn", "agent_id": 2}, "response": {"content": "Legal says no."}},
    ).raise_for_status()

    legal = backend_http.post(TURNS, json={"query": "Can I?", "agent_id": 2}).json()
    default = backend_http.post(TURNS, json={"query": "Can I?"}).json()

    assert legal["messages"][1]["parts"][-1]["text"] == "Legal says no."
    assert default["messages"][1]["parts"][-1]["text"] != "Legal says no."


def test_a_scripted_cancellation_ends_cancelled(on_backend, backend_http):
    httpx.post(on_backend.base_url + "/_emulator/fixtures", timeout=TIMEOUT, json={
        "match": {"operation": "turn"}, "response": {"content": "cut", "cancelled": True}}).raise_for_status()

    assert backend_http.post(TURNS, json={"query": "x"}).json()["status"] == "cancelled"


def test_a_turn_fixture_with_a_misspelt_key_is_refused(on_backend):
    response = httpx.post(on_backend.base_url + "/_emulator/fixtures", timeout=TIMEOUT, json={
        "match": {"operation": "turn", "turn_idx": 0}, "response": {"content": "x"}})

    assert response.status_code == 400
    assert "turn_idx" in response.text


def test_the_plugin_scripts_turns(paradigm_emulator):
    emu = paradigm_emulator
    emu.on_turn(contains="refund").reply_tool_call(
        "document_search", {"query": "refund"}, result="30 days.", sources=[{"file_id": 4, "page": 2}]
    ).and_reply("Within 30 days.").then_fail("Agent crashed", code="crash")
    emu.on_turn(contains="slow").reply("Finally.").take_ms(300)
    with httpx.Client(base_url=emu.root_url, headers={"Authorization": f"Bearer {emu.api_key}"},
                      timeout=TIMEOUT) as http:
        first = http.post(TURNS, json={"query": "refund please"}).json()
        second = http.post(TURNS, json={"query": "refund again"}).json()
        slow = http.post(TURNS, json={"query": "slow one", "background": True})
        assert slow.status_code == 202 and slow.json()["status"] == "running"
        deadline = time.monotonic() + 5
        while http.get(f"/api/v3/threads/{slow.json()['thread']}").json()["status"] == "running":
            assert time.monotonic() < deadline
            time.sleep(0.01)

    assert first["messages"][1]["parts"][-1]["text"] == "Within 30 days."
    assert first["messages"][1]["parts"][0]["tool_call"]["result"]["chunk_sources"][0]["page"] == 2
    assert (second["status"], second["error"]["code"]) == ("failed", "crash")
    emu.assert_called("turn", times=3)
    emu.assert_called("turn", query="refund please")


def test_a_plugin_rule_can_end_a_turn_cancelled(paradigm_emulator):
    paradigm_emulator.on_turn(contains="stop").reply("cut short").cancel()
    with httpx.Client(base_url=paradigm_emulator.root_url, timeout=TIMEOUT,
                      headers={"Authorization": f"Bearer {paradigm_emulator.api_key}"}) as http:
        turn = http.post(TURNS, json={"query": "stop here"}).json()

    assert turn["status"] == "cancelled"


def test_strict_mode_refuses_an_unscripted_turn(make_server):
    with _http(make_server(strict=True)) as http:
        response = http.post(TURNS, json={"query": "anything"})

    assert response.status_code == 404
    assert "No fixture matches POST /api/v3/threads/turns" in response.json()["error"]["message"]


def test_a_turn_fixture_adds_its_headers(paradigm_emulator):
    paradigm_emulator.on_turn(contains="trace").reply("ok").with_headers(x_trace_id="42")
    with httpx.Client(base_url=paradigm_emulator.root_url, timeout=TIMEOUT,
                      headers={"Authorization": f"Bearer {paradigm_emulator.api_key}"}) as http:
        response = http.post(TURNS, json={"query": "trace me"})

    assert response.headers["x-trace-id"] == "42"
