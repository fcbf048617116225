"""How to test what the application does when the API fails: rate limits, outages, slow answers.

``fail(status)`` answers with the body the real stack gives for that status (DRF's for 429,
vLLM's for model errors) unless you pass ``message=`` or ``body=``; ``retry_after=`` adds the
Retry-After header the OpenAI SDK honours. Chain ``then_reply`` to recover on the next call.
"""

from __future__ import annotations

import openai
import pytest

QUESTION = [{"role": "user", "content": "Summarise the contract"}]


def summarise(client: openai.OpenAI) -> str:
    """The code under test: falls back to a fixed text when the model is unavailable."""
    try:
        response = client.chat.completions.create(model="alfred-4.2", messages=QUESTION)
    except (openai.InternalServerError, openai.APITimeoutError):
        return "Summary unavailable, try again later."
    return response.choices[0].message.content


def test_the_sdk_retries_a_rate_limit_and_succeeds(paradigm_emulator):
    # A fraction of a second keeps the test fast; the SDK sleeps what Retry-After says.
    paradigm_emulator.on_chat().fail(429, retry_after=0.01).then_reply("A short summary.")
    client = paradigm_emulator.client(max_retries=2)

    assert summarise(client) == "A short summary."

    assert [r.status for r in paradigm_emulator.requests] == [429, 200]


def test_a_rate_limit_without_retries_reaches_the_caller(paradigm_emulator, paradigm_client):
    paradigm_emulator.on_chat().fail(429, retry_after=30)

    with pytest.raises(openai.RateLimitError) as raised:
        summarise(paradigm_client)  # paradigm_client never retries: a retry would hide the failure

    assert raised.value.response.headers["Retry-After"] == "30"


def test_an_outage_falls_back(paradigm_emulator, paradigm_client):
    paradigm_emulator.on_chat().fail(503, "The model is loading")

    assert summarise(paradigm_client) == "Summary unavailable, try again later."


def test_the_error_body_can_be_exact(paradigm_emulator, paradigm_client):
    paradigm_emulator.on_chat().fail(
        400,
        body={
            "error": {
                "message": "This model's maximum context length is 8192",
                "type": "BadRequestError",
                "param": None,
                "code": 400,
            }
        },
    )

    with pytest.raises(openai.BadRequestError, match="maximum context length"):
        summarise(paradigm_client)


def test_a_slow_answer_trips_the_client_timeout(paradigm_emulator):
    paradigm_emulator.on_chat().reply("too late").with_delay(300)
    client = paradigm_emulator.client(timeout=0.05)

    # The fallback is only returned on the client's timeout: the answer was still 300 ms away.
    assert summarise(client) == "Summary unavailable, try again later."

    # The emulator finishes the abandoned request later: wait for it, or the next test would see it.
    paradigm_emulator.wait_for(1)


def test_only_the_first_call_fails(paradigm_emulator, paradigm_client):
    paradigm_emulator.on_chat().fail(500).once()

    assert summarise(paradigm_client) == "Summary unavailable, try again later."
    assert summarise(paradigm_client) != "Summary unavailable, try again later."
