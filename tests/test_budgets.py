"""Every request has a budget: past it, a clear 4xx naming the limit and its flag, never a stall.

Each test sends a request that once took seconds to minutes (the exact 297-byte schema, 20,000
inputs, 20 MB to tokenize, a backtracking fixture regex, a YAML of aliases) and checks the answer
comes at once: within AT_ONCE_S, a margin a loaded CI machine does not cross.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from conftest import KEY, TIMEOUT

from emulator.errors import StartupError

pytestmark = pytest.mark.timing

AT_ONCE_S = 3.0  # what "at once" may take on a loaded CI machine (they took 5 to 31 s)
CHAT = {"model": "alfred-4", "messages": [{"role": "user", "content": "hi"}]}

# minItems 256 nested three deep: 16.7 million strings, which took 31 s and 2 GB.
SCHEMA_297 = (
    b'{"model":"alfred-4","messages":[{"role":"user","content":"Fill in the grid."}],"response_format":'
    b'{"type":"json_schema","json_schema":{"name":"grid","schema":{"type":"array","minItems":256,"items":'
    b'{"type":"array","minItems":256,"items":{"type":"array","minItems":256,"items":{"type":"string"}}}}}}}'
)


def timed(send):
    started = time.monotonic()
    response = send()
    return response, time.monotonic() - started


def vllm_message(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == response.status_code
    return body["error"]["message"]


def test_the_297_byte_schema_is_refused_at_once_naming_the_limit(http):
    assert len(SCHEMA_297) == 297
    response, took = timed(
        lambda: http.post(
            "/api/v2/chat/completions", content=SCHEMA_297, headers={"Content-Type": "application/json"}
        )
    )
    assert response.status_code == 400
    assert "--max-structured-values 10000" in vllm_message(response)
    assert response.json()["error"]["param"] == "response_format"
    assert took < AT_ONCE_S


def test_the_values_budget_is_shared_by_the_n_choices(make_server):
    running = make_server(max_structured_values=1000)
    schema = {"type": "array", "minItems": 200, "maxItems": 200, "items": {"type": "integer"}}
    body = CHAT | {"response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": schema}}}
    with httpx.Client(
        base_url=running.v2, headers={"Authorization": f"Bearer {KEY}"}, timeout=TIMEOUT
    ) as http:
        assert http.post("/chat/completions", json=body | {"n": 4, "temperature": 1}).status_code == 200
        refused = http.post("/chat/completions", json=body | {"n": 5, "temperature": 1})
        assert refused.status_code == 400 and "--max-structured-values 1000" in vllm_message(refused)


def test_a_schema_that_requires_itself_is_refused_naming_the_depth_limit(http):
    schema = {
        "$ref": "#/$defs/node",
        "$defs": {
            "node": {
                "type": "object",
                "required": ["child"],
                "properties": {"child": {"$ref": "#/$defs/node"}},
            }
        },
    }
    response = http.post(
        "/api/v2/chat/completions",
        json=CHAT
        | {"response_format": {"type": "json_schema", "json_schema": {"name": "loop", "schema": schema}}},
    )
    assert response.status_code == 400
    assert "--max-structured-depth 32" in vllm_message(response)


def test_a_regex_pattern_of_nested_repeats_is_refused_at_once(http):
    response, took = timed(
        lambda: http.post(
            "/api/v2/chat/completions", json=CHAT | {"guided_regex": "((((a{256}){256}){256}){256})"}
        )
    )
    assert response.status_code == 400 and "--max-structured-values" in vllm_message(response)
    assert took < AT_ONCE_S


def test_20000_embedding_inputs_are_refused_at_once_naming_the_limit(http):
    body = {"model": "multilingual-e5-large", "input": [f"text {i}" for i in range(20_000)]}
    response, took = timed(lambda: http.post("/api/v2/embeddings", json=body))
    assert response.status_code == 400
    assert "20000 inputs" in vllm_message(response) and "--max-embedding-inputs 2048" in vllm_message(
        response
    )
    assert response.json()["error"]["param"] == "input"
    assert took < AT_ONCE_S


def test_n_best_of_and_logprobs_at_their_maximum_are_answered_within_the_budget(http):
    body = {"model": "alfred-4", "prompt": "Once", "best_of": 128, "n": 128, "logprobs": 20}
    response, took = timed(lambda: http.post("/api/v2/completions", json=body))
    assert response.status_code == 200 and len(response.json()["choices"]) == 128
    assert took < AT_ONCE_S


@pytest.mark.parametrize(
    "extra",
    [
        # each took ~30 s and made a 200 MB body
        pytest.param({"echo": True, "prompt": "word " * 4000}, id="echo-of-a-long-prompt"),
        pytest.param({"ignore_eos": True, "max_tokens": 4000}, id="ignore-eos"),
    ],
)
def test_sampling_work_past_the_budget_is_refused_at_once_naming_the_limit(http, extra):
    body = {"model": "alfred-4", "prompt": "Once", "n": 128, "logprobs": 20} | extra
    response, took = timed(lambda: http.post("/api/v2/completions", json=body))
    assert response.status_code == 400
    assert "--max-sampling-work 262144" in vllm_message(response)
    assert took < AT_ONCE_S


def test_a_long_generation_without_logprobs_fits_the_sampling_budget(http):
    body = {"model": "alfred-4", "prompt": "Once", "ignore_eos": True, "max_tokens": 8000}
    response = http.post("/api/v2/completions", json=body)
    assert response.status_code == 200 and response.json()["usage"]["completion_tokens"] == 8000


def test_20_mb_to_tokenize_is_refused_at_once_naming_the_limit(http):
    body = {"model": "alfred-4", "prompt": "word " * (4 * 1024 * 1024)}
    response, took = timed(lambda: http.post("/api/v2/tokenize", json=body))
    assert response.status_code == 400
    assert response.json() == {
        "prompt": ["The text to tokenize is 20.0 MB; the limit is --max-tokenize-mb 1."]
    }
    assert took < AT_ONCE_S + 2  # 20 MB to send and parse first


def test_a_raised_tokenize_limit_lets_a_larger_text_through(make_server):
    running = make_server(max_tokenize_mb=3)
    with httpx.Client(
        base_url=running.v2, headers={"Authorization": f"Bearer {KEY}"}, timeout=TIMEOUT
    ) as http:
        response = http.post("/tokenize", json={"model": "alfred-4", "prompt": "word " * 400_000})
        assert response.status_code == 200 and response.json()["total_tokens"] >= 400_000


@pytest.mark.parametrize("pattern", ["^(a+)+$", "^(a|aa)+$", "^(a|a?)+$"])
def test_a_backtracking_fixture_regex_does_not_stall_the_server(server, emulator, http, pattern):
    added = http.post(
        "/_emulator/fixtures",
        json={
            "name": "redos",
            "match": {"last_user_message": {"regex": pattern}},
            "response": {"content": "matched"},
        },
    )
    assert added.status_code == 201
    body = {"model": "alfred-4", "messages": [{"role": "user", "content": "a" * 64 + "!"}]}
    response, took = timed(lambda: http.post("/api/v2/chat/completions", json=body))
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] != "matched"
    assert took < AT_ONCE_S
    matched = http.post(
        "/api/v2/chat/completions", json=body | {"messages": [{"role": "user", "content": "aaaa"}]}
    )
    assert matched.json()["choices"][0]["message"]["content"] == "matched"


def billion_laughs(levels: int = 9) -> str:
    lines = [
        "name: laughs",
        "match: {operation: chat}",
        "response:",
        "  error:",
        "    status: 418",
        "    body:",
        '      l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
    ]
    for level in range(1, levels):
        lines.append(f"      l{level}: &l{level} [" + ",".join([f"*l{level - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_a_yaml_of_aliases_is_refused_naming_the_limit(server, emulator, http):
    document = billion_laughs()
    assert len(document) < 700  # expanded: 387 million "lol"s
    response, took = timed(
        lambda: http.post(
            "/_emulator/fixtures", content=document, headers={"Content-Type": "application/yaml"}
        )
    )
    assert response.status_code == 400
    assert (
        "aliases expanded" in response.json()["detail"] and "--max-fixture-mb 5" in response.json()["detail"]
    )
    assert took < AT_ONCE_S
    listed = http.get("/_emulator/fixtures")
    assert listed.json() == {"fixtures": []} and len(listed.content) < 100


def test_aliases_within_the_limit_are_still_fixtures(server, emulator, http):
    document = billion_laughs(levels=3)  # 729 "lol"s
    response = http.post(
        "/_emulator/fixtures", content=document, headers={"Content-Type": "application/yaml"}
    )
    assert response.status_code == 201


def test_a_self_referring_yaml_alias_is_refused(server, emulator, http):
    document = (
        "name: loop\nmatch: {operation: chat}\nresponse:\n  error:\n    status: 418\n"
        "    body: &b {again: *b}\n"
    )
    response = http.post(
        "/_emulator/fixtures", content=document, headers={"Content-Type": "application/yaml"}
    )
    assert response.status_code == 400 and "contains itself" in response.json()["detail"]


def test_a_fixture_file_of_aliases_stops_start_up_naming_the_file_and_the_limit(make_server, tmp_path):
    (tmp_path / "laughs.yaml").write_text(billion_laughs())
    with pytest.raises(StartupError, match=r"laughs\.yaml:\d+: .*--max-fixture-mb 5"):
        make_server(fixtures_dir=tmp_path)


def test_a_health_check_answers_while_2048_embeddings_are_made(server, http) -> None:
    body = {"model": "multilingual-e5-large", "input": [f"input number {i}" for i in range(2048)]}
    with ThreadPoolExecutor(1) as pool:
        # Its own timeout: the probes below take the server's (and this process's) time from the work,
        # and a loaded machine has little to spare; nothing here is a speed check.
        pending = pool.submit(http.post, "/api/v2/embeddings", json=body, timeout=120)
        checks = 0
        with httpx.Client(base_url=server.base_url, timeout=TIMEOUT) as probe:
            while not pending.done():
                assert probe.get("/_emulator/health").status_code == 200
                checks += 1
        assert pending.result().status_code == 200
    # Made on the loop, the embeddings would hold every probe behind them: one answered before the
    # work began and one after it at most. Off the loop, the probes are answered while it runs.
    assert checks >= 5, checks
