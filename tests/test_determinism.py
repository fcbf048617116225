"""The same request gives the same bytes; only what shapes the text changes it."""

# ruff: noqa: F811  (pytest fixtures imported from contract are redefined as arguments)

from __future__ import annotations

import httpx
import pytest
from contract import KEY, TIMEOUT, Contract, api, contract, parse_sse  # noqa: F401  (fixtures)

CHAT = "/api/v2/chat/completions"
COMPLETIONS = "/api/v2/completions"
EMBEDDINGS = "/api/v2/embeddings"
HELLO = [{"role": "user", "content": "Hello, my name is Tom, how are you?"}]
BASE = {"model": "alfred-4.2", "messages": HELLO}


def chat_text(api, **changes) -> str:
    body = api.post(CHAT, json={**BASE, **changes}).json()
    return body["choices"][0]["message"]["content"]


def streamed_text(api, **changes) -> str:
    events = parse_sse(api.post(CHAT, json={**BASE, "stream": True, **changes}).content)
    return "".join(
        e["choices"][0]["delta"].get("content", "")
        for e in events[:-1]
        if e["choices"] and e["choices"][0]["index"] == 0
    )


@pytest.mark.parametrize(
    "path, body",
    [
        pytest.param(CHAT, {**BASE, "temperature": 0.7, "max_tokens": 150}, id="chat"),
        pytest.param(
            CHAT,
            {**BASE, "stream": True, "n": 2, "stream_options": {"include_usage": True}},
            id="chat-stream",
        ),
        pytest.param(
            COMPLETIONS,
            {"model": "alfred-4.2", "prompt": "Once upon a time", "logprobs": 2, "echo": True},
            id="completions",
        ),
        pytest.param(
            COMPLETIONS,
            {"model": "alfred-4.2", "prompt": "Write a poem about", "stream": True},
            id="completions-stream",
        ),
        pytest.param(
            EMBEDDINGS,
            {"model": "multilingual-e5-large", "input": ["a", "b"], "encoding_format": "base64"},
            id="embeddings",
        ),
    ],
)
def test_same_request_twice_gives_identical_bytes(api, path, body):
    first, second = api.post(path, json=body), api.post(path, json=body)
    assert first.status_code == 200 and first.content == second.content


def test_a_fresh_server_gives_the_same_bytes(api, make_server):
    body = {**BASE, "n": 2, "logprobs": True, "top_logprobs": 2}
    fresh = make_server()
    response = httpx.post(
        fresh.base_url + CHAT, json=body, headers={"Authorization": f"Bearer {KEY}"}, timeout=TIMEOUT
    )
    Contract(fresh.emulator).check(response)
    assert response.content == api.post(CHAT, json=body).content


def test_the_seed_in_the_body_changes_the_text(api):
    assert chat_text(api, seed=1) != chat_text(api, seed=2)
    assert chat_text(api, seed=1) == chat_text(api, seed=1)


def test_the_servers_seed_changes_the_text(api, make_server):
    other = make_server(seed=42)
    response = httpx.post(
        other.base_url + CHAT, json=BASE, headers={"Authorization": f"Bearer {KEY}"}, timeout=TIMEOUT
    )
    Contract(other.emulator).check(response)
    assert response.json()["choices"][0]["message"]["content"] != chat_text(api)


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"model": "alfred-4"}, id="model"),
        pytest.param({"messages": [{"role": "user", "content": "Something else"}]}, id="messages"),
        pytest.param({"temperature": 0.2}, id="temperature"),
    ],
)
def test_what_shapes_the_text_changes_it(api, changes):
    assert chat_text(api, **changes) != chat_text(api)


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"stream_options": {"include_usage": True}}, id="stream-options"),
        pytest.param({"presence_penalty": 1.0, "frequency_penalty": 0.5}, id="penalties"),
        pytest.param({"user": "someone"}, id="user"),
        pytest.param({"logprobs": True, "top_logprobs": 5}, id="logprobs"),
        pytest.param({"n": 3}, id="n-first-choice"),
    ],
)
def test_what_only_frames_the_text_leaves_it_alone(api, changes):
    assert streamed_text(api, **changes) == chat_text(api, **changes) == chat_text(api)


@pytest.mark.parametrize("max_tokens", [1, 4, 9])
def test_a_smaller_max_tokens_gives_a_prefix(api, max_tokens):
    full = chat_text(api)
    cut = chat_text(api, max_tokens=max_tokens)
    assert full.startswith(cut) and len(cut) < len(full)
    assert streamed_text(api, max_tokens=max_tokens) == cut


def test_a_stop_gives_a_prefix(api):
    full = chat_text(api)
    stop = full.split()[-2]
    cut = chat_text(api, stop=[stop])
    assert full.startswith(cut) and cut == full[: full.index(stop)]
    assert streamed_text(api, stop=[stop]) == cut


def test_ids_are_stable_and_per_request(api):
    first = api.post(CHAT, json=BASE).json()["id"]
    assert api.post(CHAT, json=BASE).json()["id"] == first
    assert api.post(CHAT, json={**BASE, "max_tokens": 3}).json()["id"] != first
