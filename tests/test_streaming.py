"""SSE exactly as vLLM writes it (peers.md 4.3), checked on the raw bytes, and through the SDK."""

# ruff: noqa: F811  (pytest fixtures imported from contract are redefined as arguments)

from __future__ import annotations

import time

import httpx
import pytest
from contract import KEY, TIMEOUT, Contract, api, async_sdk, contract, parse_sse, sdk  # noqa: F401  (fixtures)

CHAT = "/api/v2/chat/completions"
COMPLETIONS = "/api/v2/completions"
HELLO = [{"role": "user", "content": "Tell me a story"}]


def stream(api, path: str, **body) -> tuple[httpx.Response, list]:
    response = api.post(path, json={"model": "alfred-4.2", "stream": True, **body})
    assert response.status_code == 200, response.text
    return response, parse_sse(response.content)


def chunks_of(events: list) -> list[dict]:
    assert events[-1] == "[DONE]"
    return events[:-1]


def test_stream_is_an_event_stream_ending_with_done(api):
    response, events = stream(api, CHAT, messages=HELLO, max_tokens=5)
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    assert response.content.endswith(b"data: [DONE]\n\n")
    assert all(line.startswith(b"data: ") for line in response.content.split(b"\n\n") if line)


def test_chat_stream_frames_every_chunk_alike(api):
    _, events = stream(api, CHAT, messages=HELLO, max_tokens=5, n=2)
    chunks = chunks_of(events)
    assert len({(c["id"], c["created"], c["model"], c["object"]) for c in chunks}) == 1
    assert chunks[0]["object"] == "chat.completion.chunk"
    assert all(len(c["choices"]) == 1 for c in chunks)  # one choice per chunk
    assert all("usage" not in c for c in chunks)  # vLLM leaves unset fields out


def test_chat_stream_opens_each_choice_with_the_role(api):
    _, events = stream(api, CHAT, messages=HELLO, max_tokens=3, n=3)
    firsts = [c["choices"][0] for c in chunks_of(events)[:3]]
    assert firsts == [
        {"index": i, "delta": {"role": "assistant", "content": ""}, "logprobs": None, "finish_reason": None}
        for i in range(3)
    ]


def test_chat_stream_finishes_each_choice_once(api):
    _, events = stream(api, CHAT, messages=HELLO, max_tokens=4, n=2)
    finishes = [c["choices"][0] for c in chunks_of(events) if c["choices"][0]["finish_reason"] is not None]
    assert sorted(f["index"] for f in finishes) == [0, 1]
    assert all(
        f["finish_reason"] == "length" and "stop_reason" in f and f["stop_reason"] is None for f in finishes
    )


def test_chat_stream_text_is_the_plain_answer(api):
    plain = api.post(CHAT, json={"model": "alfred-4.2", "messages": HELLO, "n": 2}).json()
    _, events = stream(api, CHAT, messages=HELLO, n=2)
    texts = {0: "", 1: ""}
    for chunk in chunks_of(events):
        choice = chunk["choices"][0]
        texts[choice["index"]] += choice["delta"].get("content", "")
    assert texts == {c["index"]: c["message"]["content"] for c in plain["choices"]}


def test_stop_in_a_stream_gives_stop_reason(api):
    plain = api.post(CHAT, json={"model": "alfred-4.2", "messages": HELLO}).json()["choices"][0]["message"][
        "content"
    ]
    stop = plain.split()[2]
    _, events = stream(api, CHAT, messages=HELLO, stop=[stop])
    last = chunks_of(events)[-1]["choices"][0]
    assert (last["finish_reason"], last["stop_reason"]) == ("stop", stop)


def test_include_usage_adds_a_final_usage_chunk(api):
    plain = api.post(CHAT, json={"model": "alfred-4.2", "messages": HELLO, "max_tokens": 6, "n": 2}).json()
    _, events = stream(api, CHAT, messages=HELLO, max_tokens=6, n=2, stream_options={"include_usage": True})
    last = chunks_of(events)[-1]
    assert last["choices"] == [] and last["usage"] == plain["usage"]
    assert all("usage" not in c for c in chunks_of(events)[:-1])


@pytest.mark.parametrize(
    "options, usage_chunk",
    [
        pytest.param(None, False, id="no-options"),
        pytest.param({}, True, id="empty-options-vllm-default"),
        pytest.param({"include_usage": False}, False, id="usage-off"),
    ],
)
def test_usage_chunk_follows_vllm_defaults(api, options, usage_chunk):
    body = {"messages": HELLO, "max_tokens": 3}
    if options is not None:
        body["stream_options"] = options
    _, events = stream(api, CHAT, **body)
    assert (chunks_of(events)[-1]["choices"] == []) is usage_chunk


def test_continuous_usage_stats_counts_as_it_goes(api):
    _, events = stream(
        api,
        CHAT,
        messages=HELLO,
        max_tokens=3,
        stream_options={"include_usage": True, "continuous_usage_stats": True},
    )
    completion = [c["usage"]["completion_tokens"] for c in chunks_of(events)]
    assert completion == [0, 1, 2, 3, 3]


def test_chat_stream_logprobs_per_chunk(api) -> None:
    _, events = stream(api, CHAT, messages=HELLO, max_tokens=3, logprobs=True, top_logprobs=2)
    content_chunks = chunks_of(events)[1:]
    assert content_chunks  # the loop below checks something
    for chunk in content_chunks:
        choice = chunk["choices"][0]
        (entry,) = choice["logprobs"]["content"]
        assert entry["token"] == choice["delta"]["content"] and len(entry["top_logprobs"]) == 2


def test_completion_stream_has_text_chunks_and_no_role(api):
    plain = api.post(
        COMPLETIONS, json={"model": "alfred-4.2", "prompt": "Write a poem about", "max_tokens": 7}
    ).json()
    _, events = stream(
        api, COMPLETIONS, prompt="Write a poem about", max_tokens=7, stream_options={"include_usage": True}
    )
    chunks = chunks_of(events)
    assert {c["object"] for c in chunks} == {"text_completion"} and len({c["id"] for c in chunks}) == 1
    text_chunks = chunks[:-1]
    assert "".join(c["choices"][0]["text"] for c in text_chunks) == plain["choices"][0]["text"]
    assert [c["choices"][0]["finish_reason"] for c in text_chunks] == [None] * 6 + ["length"]
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == plain["usage"]


def test_completion_stream_logprobs_offsets_run_on(api):
    _, events = stream(api, COMPLETIONS, prompt="Hi", max_tokens=4, logprobs=1, echo=True)
    offsets, text = [], ""
    for chunk in chunks_of(events):
        lp = chunk["choices"][0]["logprobs"]
        offsets.extend(lp["text_offset"])
        text += chunk["choices"][0]["text"]
    assert offsets[0] == 0 and offsets[1] == len("Hi") and text.startswith("Hi")


def test_sdk_stream_prints_the_story(sdk):
    pieces = [
        chunk.choices[0].delta.content or ""
        for chunk in sdk.chat.completions.create(
            model="alfred-4.2", messages=HELLO, stream=True, max_tokens=30
        )
    ]
    plain = sdk.chat.completions.create(model="alfred-4.2", messages=HELLO, max_tokens=30)
    assert "".join(pieces) == plain.choices[0].message.content


def test_sdk_stream_with_usage(sdk):
    chunks = list(
        sdk.chat.completions.create(
            model="alfred-4.2",
            messages=HELLO,
            stream=True,
            max_tokens=5,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 5


@pytest.mark.anyio
async def test_async_sdk_stream(async_sdk):
    stream_ = await async_sdk.completions.create(
        model="alfred-4.2", prompt="Write a poem about", stream=True, max_tokens=8
    )
    texts = [chunk.choices[0].text async for chunk in stream_]
    assert len(texts) == 8 and all(texts)


def test_each_chunk_is_sent_as_it_is_made(make_server):
    """With --itl-ms 50 the first token arrives long before the last; --ttft-ms delays the first."""
    running = make_server(ttft_ms=150, itl_ms=50)
    arrivals, raw = [], b""
    started = time.monotonic()
    with httpx.Client(timeout=TIMEOUT, headers={"Authorization": f"Bearer {KEY}"}) as client:
        with client.stream(
            "POST",
            running.base_url + CHAT,
            json={"model": "alfred-4.2", "messages": HELLO, "max_tokens": 6, "stream": True},
        ) as response:
            for block in response.iter_bytes():
                arrivals.extend([time.monotonic() - started] * block.count(b"data: "))
                raw += block
    Contract(running.emulator).check_stream("POST", CHAT, 200, raw)
    assert len(arrivals) == 8  # role chunk, 6 tokens, [DONE]
    assert arrivals[0] >= 0.14  # time to first token
    assert arrivals[-2] - arrivals[1] >= 4 * 0.045  # five gaps of 50 ms between the six tokens, give or take


def test_non_streamed_answer_waits_for_its_last_token(make_server):
    running = make_server(ttft_ms=100, itl_ms=20)
    started = time.monotonic()
    response = httpx.post(
        running.base_url + CHAT,
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=TIMEOUT,
        json={"model": "alfred-4.2", "messages": HELLO, "max_tokens": 6},
    )
    elapsed = time.monotonic() - started
    Contract(running.emulator).check(response)
    assert elapsed >= 0.1 + 5 * 0.02 - 0.01
