"""GET /_emulator/metrics: the Prometheus text, and figures that count what the test sent."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import TIMEOUT, backend_overrides

CHAT = "/api/v2/chat/completions"
OP = "api_v2_chat_completions_create"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(found: dict, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.mark.parametrize("kind", ["memory", "redis"])
def test_the_metrics_count_what_the_test_sent(kind: str, make_server) -> None:
    running = make_server(rpm=3, **backend_overrides(kind))
    body = {"model": "alfred-4.2", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4}
    auth = {"Authorization": "Bearer k"}
    with httpx.Client(base_url=running.base_url, headers=auth, timeout=TIMEOUT) as http:
        for _ in range(2):
            assert http.post(CHAT, json=body).status_code == 200
        with http.stream("POST", CHAT, json={**body, "stream": True}) as streamed:
            streamed.read()
        assert http.post(CHAT, json=body).status_code == 429
        assert http.get("/api/v2/models").status_code == 200
        assert http.post(CHAT, content=b"{", headers={"Content-Type": "application/json"}).status_code == 400
        scraped = http.get("/_emulator/metrics")
    assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
    found = samples(scraped.text)
    assert value(found, "paradigm_emulator_requests_total", operation=OP, status="200") == 3
    assert value(found, "paradigm_emulator_requests_total", operation=OP, status="429") == 1
    assert value(found, "paradigm_emulator_requests_total", operation=OP, status="400") == 1
    assert value(found, "paradigm_emulator_requests_total", operation="api_v2_models_list", status="200") == 1
    assert value(found, "paradigm_emulator_request_duration_seconds_count", operation=OP) == 5
    assert value(found, "paradigm_emulator_streams_total", outcome="complete") == 1
    assert value(found, "paradigm_emulator_rate_limited_total", operation=OP, limit="requests") == 1
    assert value(found, "paradigm_emulator_turns_running") == 0
    assert ("paradigm_emulator_ingestion_queue", ()) in found
    assert value(found, "paradigm_emulator_state_backend_errors_total") == 0
    assert "Bearer" not in scraped.text  # nothing of the keys


def test_a_turn_being_served_shows_as_running(make_server) -> None:
    running = make_server()
    found = samples(httpx.get(running.base_url + "/_emulator/metrics", timeout=TIMEOUT).text)
    assert value(found, "paradigm_emulator_turns_running") == 0
    auth = {"Authorization": "Bearer k"}
    with httpx.Client(base_url=running.base_url, headers=auth, timeout=TIMEOUT) as http:
        turn = http.post("/api/v3/threads/turns", json={"query": "Hello"})
        assert turn.status_code in (200, 201, 202), turn.text
    found = samples(httpx.get(running.base_url + "/_emulator/metrics", timeout=TIMEOUT).text)
    assert value(found, "paradigm_emulator_turns_running") == 0  # done, so no longer running
    assert sum(v for (name, labels), v in found.items() if name == "paradigm_emulator_requests_total"
               and ("operation", "api_v3_threads_turns_create") in labels) == 1
