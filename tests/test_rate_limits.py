"""Rate limits per user on the model operations, through real HTTP on both backends: exactly N
pass in a window, DRF's 429 with Retry-After and the x-ratelimit-* headers, tokens counted at
admission and corrected after the answer, limits from the flags, the catalog, --users and the
control API, and the openai SDK's retries."""

from __future__ import annotations

import concurrent.futures
import logging
from pathlib import Path

import httpx
import openai
import pytest

from emulator.config import DEFAULT_FIXTURES_DIR
from emulator.limits.stage import UNLIMITED
from tests.conftest import TIMEOUT, backend_overrides
from tests.test_fixture_files import edit
from tests.test_users import users_file

CHAT = "/api/v2/chat/completions"
SIX = ("x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests",
       "x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens")
BACKENDS = pytest.mark.parametrize("kind", ["memory", "redis"])


def body(content: str = "Hello there", max_tokens: int = 8, model: str = "alfred-4.2") -> dict:
    return {"model": model, "messages": [{"role": "user", "content": content}], "max_tokens": max_tokens}


def chat(base: str, key: str, payload: dict | None = None) -> httpx.Response:
    return httpx.post(base + CHAT, json=payload or body(), headers={"Authorization": f"Bearer {key}"},
                      timeout=TIMEOUT)


def at_once(base: str, key: str, count: int) -> list[int]:
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        return sorted(r.status_code for r in pool.map(lambda _: chat(base, key), range(count)))


@BACKENDS
def test_exactly_n_requests_pass_in_a_window_per_user(kind: str, make_server) -> None:
    running = make_server(rpm=3, **backend_overrides(kind))
    assert at_once(running.base_url, "team-a", 10) == [200] * 3 + [429] * 7
    assert chat(running.base_url, "team-b").status_code == 200  # another key: its own window


@BACKENDS
def test_a_throttled_request_gets_drf_s_body_and_the_retry_headers(kind: str, make_server) -> None:
    running = make_server(rpm=1, tpm=10_000, **backend_overrides(kind))
    first = chat(running.base_url, "k")
    assert first.status_code == 200
    assert all(name in first.headers for name in SIX)
    assert first.headers["x-ratelimit-limit-requests"] == "1"
    assert first.headers["x-ratelimit-remaining-requests"] == "0"
    assert first.headers["x-ratelimit-limit-tokens"] == "10000"
    refused = chat(running.base_url, "k")
    assert refused.status_code == 429
    seconds = int(refused.headers["retry-after"])
    assert 1 <= seconds <= 60
    assert refused.json() == {"detail": f"Request was throttled. Expected available in {seconds} "
                                        f"second{'s' if seconds != 1 else ''}."}
    assert 0 < int(refused.headers["retry-after-ms"]) <= 60_000
    assert all(name in refused.headers for name in SIX)
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"


@pytest.mark.parametrize(("flags", "limited", "unlimited"), [
    pytest.param({"rpm": 2}, "requests", "tokens", id="rpm-only"),
    pytest.param({"tpm": 5_000}, "tokens", "requests", id="tpm-only"),
])
def test_with_one_kind_of_limit_the_other_reads_as_unlimited(flags: dict, limited: str, unlimited: str,
                                                            make_server) -> None:
    running = make_server(**flags)
    answers = [chat(running.base_url, "k") for _ in range(3 if limited == "requests" else 1)]
    for answer in answers:
        assert all(name in answer.headers for name in SIX)
        assert answer.headers[f"x-ratelimit-limit-{unlimited}"] == str(UNLIMITED)
        assert answer.headers[f"x-ratelimit-remaining-{unlimited}"] == str(UNLIMITED)
        assert answer.headers[f"x-ratelimit-reset-{unlimited}"] == "0ms"
    assert answers[0].headers[f"x-ratelimit-limit-{limited}"] == str(flags["rpm" if limited == "requests"
                                                                          else "tpm"])
    if limited == "requests":  # the throttle's 429 carries the six as well
        assert [a.status_code for a in answers] == [200, 200, 429]
        assert answers[1].headers["x-ratelimit-remaining-requests"] == "0"


def test_an_error_its_handler_answers_carries_the_six_headers_too(make_server) -> None:
    answer = chat(make_server(rpm=5).base_url, "k", body(model="no-such-model"))
    assert answer.status_code == 404
    assert all(name in answer.headers for name in SIX)
    assert answer.headers["x-ratelimit-remaining-requests"] == "4"


def test_without_any_limit_no_rate_limit_header_is_sent(make_server) -> None:
    answer = chat(make_server().base_url, "k")
    assert answer.status_code == 200
    assert not any(name.startswith("x-ratelimit-") for name in answer.headers)


@BACKENDS
def test_tokens_are_counted_at_admission_and_corrected_after_the_answer(kind: str, make_server) -> None:
    running = make_server(tpm=400, **backend_overrides(kind))
    first = chat(running.base_url, "k", body(max_tokens=150))
    assert first.status_code == 200
    used = first.json()["usage"]
    prompt = used["prompt_tokens"]
    # At admission the call counted its prompt and all of max_tokens ...
    assert int(first.headers["x-ratelimit-remaining-tokens"]) == 400 - (prompt + 150)
    second = chat(running.base_url, "k", body(max_tokens=150))
    assert second.status_code == 200
    # ... and once answered, only what it used: the first call's correction made room for the second.
    assert int(second.headers["x-ratelimit-remaining-tokens"]) == 400 - used["total_tokens"] - (prompt + 150)
    assert used["total_tokens"] < prompt + 150
    too_big = chat(running.base_url, "k", body(max_tokens=500))
    assert too_big.status_code == 429 and "x-ratelimit-reset-tokens" in too_big.headers


@BACKENDS
def test_the_corrections_of_calls_made_at_once_all_count_before_the_next_admission(kind: str,
                                                                                   make_server) -> None:
    running = make_server(tpm=100_000, **backend_overrides(kind))
    payloads = [body(f"Question number {n}", max_tokens=150) for n in range(12)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda p: chat(running.base_url, "k", p), payloads))
    assert {a.status_code for a in answers} == {200}
    used = sum(a.json()["usage"]["total_tokens"] for a in answers)
    last = chat(running.base_url, "k", body(max_tokens=150))
    admitted = last.json()["usage"]["prompt_tokens"] + 150
    assert int(last.headers["x-ratelimit-remaining-tokens"]) == 100_000 - used - admitted


@BACKENDS
def test_a_stream_s_tokens_are_corrected_too(kind: str, make_server) -> None:
    running = make_server(tpm=400, **backend_overrides(kind))
    with httpx.stream("POST", running.base_url + CHAT, json={**body(max_tokens=150), "stream": True,
                                                               "stream_options": {"include_usage": True}},
                      headers={"Authorization": "Bearer k"}, timeout=TIMEOUT) as streamed:
        assert streamed.status_code == 200 and "x-ratelimit-remaining-tokens" in streamed.headers
        text = streamed.read().decode()
    assert "[DONE]" in text
    after = chat(running.base_url, "k", body(max_tokens=150))
    admitted = after.json()["usage"]["prompt_tokens"] + 150
    assert int(after.headers["x-ratelimit-remaining-tokens"]) > 400 - 2 * admitted


@BACKENDS
def test_embeddings_and_completions_are_limited_and_others_are_not(kind: str, make_server) -> None:
    running = make_server(rpm=1, **backend_overrides(kind))
    auth = {"Authorization": "Bearer k"}
    with httpx.Client(base_url=running.base_url, headers=auth, timeout=TIMEOUT) as http:
        embed = {"model": "multilingual-e5-large", "input": "hello"}
        assert http.post("/api/v2/embeddings", json=embed).status_code == 200
        assert http.post("/api/v2/embeddings", json=embed).status_code == 429
        completion = {"model": "alfred-4.2", "prompt": "x"}
        assert http.post("/api/v2/completions", json=completion).status_code == 429
        assert http.post("/api/v3/threads/turns", json={"query": "Hello"}).status_code == 429
        for _ in range(3):
            models = http.get("/api/v2/models")
            assert models.status_code == 200 and "x-ratelimit-limit-requests" not in models.headers


def test_a_model_s_own_limits_in_the_catalog_override_the_flags(tmp_path: Path, make_server) -> None:
    catalog = (DEFAULT_FIXTURES_DIR / "models.yaml").read_text(encoding="utf-8").replace(
        "  - technical_name: alfred-4.2\n", "  - technical_name: alfred-4.2\n    rate_limits: {rpm: 1}\n", 1)
    (tmp_path / "models.yaml").write_text(catalog, encoding="utf-8")
    running = make_server(models=tmp_path / "models.yaml", rpm=5)
    assert [chat(running.base_url, "k").status_code for _ in range(2)] == [200, 429]
    others = [chat(running.base_url, "k", body(model="alfred-4")).status_code for _ in range(6)]
    assert others == [200] * 5 + [429]  # --rpm 5, in a window of its own
    listed = httpx.get(running.v2 + "/models", headers={"Authorization": "Bearer k"}, timeout=TIMEOUT).json()
    assert all("rate_limits" not in model for model in listed["data"])


def test_a_broken_catalog_limit_stops_start_up(tmp_path: Path, make_server) -> None:
    catalog = (DEFAULT_FIXTURES_DIR / "models.yaml").read_text(encoding="utf-8").replace(
        "  - technical_name: alfred-4.2\n", "  - technical_name: alfred-4.2\n    rate_limits: {rpm: 0}\n", 1)
    (tmp_path / "models.yaml").write_text(catalog, encoding="utf-8")
    with pytest.raises(Exception, match="rate_limits"):
        make_server(models=tmp_path / "models.yaml")


@BACKENDS
def test_a_user_s_own_limits_come_from_the_users_file(kind: str, tmp_path: Path, make_server) -> None:
    running = make_server(users=users_file(tmp_path), **backend_overrides(kind))
    assert at_once(running.base_url, "carol-key", 5) == [200] * 3 + [429] * 2
    assert at_once(running.base_url, "bob-key", 5) == [200] * 5


@BACKENDS
def test_limits_set_through_the_control_api_per_space_and_for_all(kind: str, make_server) -> None:
    running = make_server(**backend_overrides(kind))
    base = running.base_url
    mine = {"X-Emulator-Api-Key": "limited"}
    assert httpx.put(base + "/_emulator/limits", json={"rpm": 2}, headers=mine, timeout=TIMEOUT).json() == {
        "rpm": 2, "tpm": None, "space": httpx.get(base + "/_emulator/limits", headers=mine).json()["space"]}
    assert at_once(base, "limited", 4) == [200, 200, 429, 429]
    assert at_once(base, "free", 4) == [200] * 4
    assert httpx.put(base + "/_emulator/limits", json={"rpm": 0}, timeout=TIMEOUT).status_code == 400
    assert httpx.put(base + "/_emulator/limits", json={"rpn": 3}, timeout=TIMEOUT).status_code == 400
    assert httpx.put(base + "/_emulator/limits", json={"rpm": 1}, timeout=TIMEOUT).status_code == 200
    assert at_once(base, "free", 3) == [200, 429, 429]  # every space, now
    assert httpx.delete(base + "/_emulator/limits", timeout=TIMEOUT).status_code == 200
    httpx.post(base + "/_emulator/reset", headers=mine, timeout=TIMEOUT).raise_for_status()
    assert at_once(base, "limited", 3) == [200] * 3  # its reset lifted the space's limit and window


@BACKENDS
def test_the_openai_sdk_s_retries_get_through_a_short_throttle(kind: str, make_server) -> None:
    running = make_server(rpm=1, rate_window_s=2, **backend_overrides(kind))
    with openai.OpenAI(api_key="k", base_url=running.v2, timeout=30.0) as client:  # default retries
        for _ in range(2):
            answer = client.chat.completions.create(**body())
            assert answer.choices[0].message.content
    statuses = [e["status"] for e in httpx.get(running.base_url + "/_emulator/journal").json()["requests"]]
    assert statuses.count(200) == 2 and set(statuses) <= {200, 429}


@BACKENDS
def test_without_retries_the_openai_sdk_raises_rate_limit_error(kind: str, make_server) -> None:
    running = make_server(rpm=1, **backend_overrides(kind))
    with openai.OpenAI(api_key="k", base_url=running.v2, timeout=30.0, max_retries=0) as client:
        client.chat.completions.create(**body())
        with pytest.raises(openai.RateLimitError) as raised:
            client.chat.completions.create(**body())
    assert raised.value.status_code == 429
    assert raised.value.response.headers["retry-after"]


def test_a_fixture_file_s_rate_limits_apply_in_every_space(tmp_path: Path, make_server) -> None:
    (tmp_path / "limits.yaml").write_text("rate_limits: {rpm: 2}\nfixtures: []\n", encoding="utf-8")
    running = make_server(fixtures_dir=tmp_path)
    assert at_once(running.base_url, "suite-a", 3) == [200, 200, 429]
    assert at_once(running.base_url, "suite-b", 3) == [200, 200, 429]


def test_a_broken_rate_limits_in_a_fixture_file_stops_start_up(tmp_path: Path, make_server) -> None:
    (tmp_path / "limits.yaml").write_text("fixtures: []\nrate_limits: {rpm: many}\n", encoding="utf-8")
    with pytest.raises(Exception, match=r"limits.yaml:2: rate_limits.rpm must be a whole number"):
        make_server(fixtures_dir=tmp_path)


def test_an_edited_fixture_file_s_rate_limits_apply_and_a_broken_edit_keeps_them(tmp_path: Path, make_server,
                                                                                 caplog) -> None:
    path = tmp_path / "limits.yaml"
    path.write_text("rate_limits: {rpm: 2}\nfixtures: []\n", encoding="utf-8")
    running = make_server(fixtures_dir=tmp_path)
    files = running.emulator.limiter.files
    assert at_once(running.base_url, "suite-a", 3) == [200, 200, 429]
    edit(path, "rate_limits: {rpm: 4}\nfixtures: []\n")
    files._next = 0.0  # the next request looks at the files now (not RELOAD_S later)
    assert at_once(running.base_url, "suite-b", 5) == [200] * 4 + [429]
    with caplog.at_level(logging.ERROR, logger="emulator.limits"):
        edit(path, "rate_limits: {rpm: none}\nfixtures: []\n")
        files._next = 0.0
        assert at_once(running.base_url, "suite-c", 5) == [200] * 4 + [429]
    assert "limits.yaml:1: rate_limits.rpm must be a whole number" in caplog.text


@pytest.mark.parametrize("given", [pytest.param("One text to embed", id="text"),
                                   pytest.param(["First text", "a second, longer one", "3"], id="texts"),
                                   pytest.param([[1, 2, 3], [4]], id="token-ids")])
def test_an_embeddings_answer_is_the_same_with_a_token_limit_and_counts_its_input(given, make_server) -> None:
    payload = {"model": "multilingual-e5-large", "input": given}
    answers = []
    for flags in ({}, {"tpm": 1_000_000}):
        running = make_server(**flags)
        answers.append(httpx.post(running.v2 + "/embeddings", json=payload, timeout=TIMEOUT,
                                  headers={"Authorization": "Bearer k"}))
    assert answers[0].content == answers[1].content
    used = answers[1].json()["usage"]["prompt_tokens"]
    assert int(answers[1].headers["x-ratelimit-remaining-tokens"]) == 1_000_000 - used
