"""How to test streaming: exact deltas, pacing, and streams that break half-way.

``stream([...])`` fixes the deltas the application receives (their concatenation when it does
not stream). Faults count SSE events, the first being the role chunk: ``truncate_after(n)``
ends the body cleanly without finish_reason or [DONE], ``error_after(n)`` sends vLLM's error
event, ``drop_after(n)`` cuts the connection.
"""

from __future__ import annotations

import time

import openai
import pytest

STORY = [{"role": "user", "content": "Tell me a story"}]


def collect(client: openai.OpenAI) -> tuple[str, str | None]:
    """The code under test: the streamed text, and why it ended (None: the stream was cut short)."""
    text, finish = [], None
    for chunk in client.chat.completions.create(model="alfred-4.2", messages=STORY, stream=True):
        if chunk.choices:
            text.append(chunk.choices[0].delta.content or "")
            finish = chunk.choices[0].finish_reason or finish
    return "".join(text), finish


def test_the_deltas_arrive_as_scripted(paradigm_emulator, paradigm_client):
    paradigm_emulator.on_chat(contains="story").stream(["Once", " upon", " a time."])

    deltas = [c.choices[0].delta.content for c in paradigm_client.chat.completions.create(
        model="alfred-4.2", messages=STORY, stream=True) if c.choices and c.choices[0].delta.content]

    assert deltas == ["Once", " upon", " a time."]


def test_the_same_script_answers_a_call_that_does_not_stream(paradigm_emulator, paradigm_client):
    paradigm_emulator.on_chat().stream(["Once", " upon", " a time."])

    response = paradigm_client.chat.completions.create(model="alfred-4.2", messages=STORY)

    assert response.choices[0].message.content == "Once upon a time."


def test_pacing_between_tokens(paradigm_emulator, paradigm_client):
    paradigm_emulator.on_chat().stream(["a", "b", "c", "d"], itl_ms=20)

    started = time.perf_counter()
    assert collect(paradigm_client) == ("abcd", "stop")
    assert time.perf_counter() - started >= 0.06  # three gaps of 20 ms at least


def test_a_truncated_stream_has_no_finish_reason(paradigm_emulator, paradigm_client):
    paradigm_emulator.on_chat().stream(["Once", " upon", " a time."]).truncate_after(3)

    assert collect(paradigm_client) == ("Once upon", None)


def test_an_error_event_mid_stream_raises_in_the_sdk(paradigm_emulator, paradigm_client):
    paradigm_emulator.on_chat().stream(["Once", " upon", " a time."]).error_after(2, "The model crashed")

    with pytest.raises(openai.APIError, match="The model crashed"):
        collect(paradigm_client)


def test_a_dropped_connection_is_a_connection_error(paradigm_emulator, paradigm_client):
    paradigm_emulator.on_chat().stream(["Once", " upon", " a time."]).drop_after(2)

    with pytest.raises(openai.APIConnectionError):
        collect(paradigm_client)


@pytest.mark.anyio
async def test_async_streaming(paradigm_emulator, paradigm_async_client):
    paradigm_emulator.on_chat().stream(["Hel", "lo"])

    stream = await paradigm_async_client.chat.completions.create(
        model="alfred-4.2", messages=STORY, stream=True
    )
    deltas = [c.choices[0].delta.content async for c in stream if c.choices and c.choices[0].delta.content]

    assert deltas == ["Hel", "lo"]
