"""How to assert on what the application sent: the journal of the current test.

``paradigm_emulator.requests`` holds every request of the test, oldest first, as immutable
``Request`` objects (``.json``, ``.headers``, ``.path``, ``.status``, ``.messages``, ``.model``,
``.fixture``). ``assert_called(target, times=1, **body_subset)`` checks them in one line and,
when it fails, lists the requests that came closest and how their bodies differ.
"""

from __future__ import annotations

import openai
import pytest


def classify(client: openai.OpenAI, ticket: str) -> str:
    """The code under test: a deterministic classification call with a system prompt."""
    response = client.chat.completions.create(
        model="alfred-4.2", temperature=0, max_tokens=5,
        messages=[{"role": "system", "content": "Answer with one word: bug, question or praise."},
                  {"role": "user", "content": ticket}],
        extra_headers={"X-Tenant": "acme"})
    return response.choices[0].message.content.strip().lower()


def test_assert_called_checks_the_target_and_part_of_the_body(paradigm_emulator, paradigm_client):
    paradigm_emulator.on_chat().reply("bug")

    assert classify(paradigm_client, "The export crashes") == "bug"

    paradigm_emulator.assert_called("chat", model="alfred-4.2", temperature=0, max_tokens=5)
    paradigm_emulator.assert_called("/api/v2/chat/completions")  # a path works as well as an alias
    paradigm_emulator.assert_not_called("embeddings")


def test_each_request_can_be_read(paradigm_emulator, paradigm_client):
    classify(paradigm_client, "Love the new UI")

    request = paradigm_emulator.last
    assert (request.method, request.path, request.status) == ("POST", "/api/v2/chat/completions", 200)
    assert request.headers["x-tenant"] == "acme"  # header names are case-insensitive
    assert request.headers["authorization"] == "[redacted]"  # the key is never kept, only that one was sent
    assert request.messages[0] == {
        "role": "system",
        "content": "Answer with one word: bug, question or praise.",
    }
    assert request.last_user_message == "Love the new UI"
    assert paradigm_emulator.call_count == 1


def test_nested_keys_compare_as_a_subset(paradigm_emulator, paradigm_client):
    paradigm_client.chat.completions.create(model="alfred-4.2", messages=[{"role": "user", "content": "hi"}],
                                            stream=True, stream_options={"include_usage": True}).close()

    paradigm_emulator.assert_called("chat", stream=True, stream_options={"include_usage": True})
    paradigm_emulator.assert_called("chat", body={"messages": [{"role": "user", "content": "hi"}]})


def test_the_journal_says_which_rule_answered(paradigm_emulator, paradigm_client):
    rule = paradigm_emulator.on_chat(contains="crash").reply("bug")

    classify(paradigm_client, "It crashes")
    classify(paradigm_client, "Thanks!")

    assert [r.fixture for r in paradigm_emulator.requests] == [rule.name, None]  # None: generated text


def test_a_failed_assertion_lists_what_was_seen(paradigm_emulator, paradigm_client):
    classify(paradigm_client, "Where is the invoice?")
    paradigm_client.models.list()

    with pytest.raises(AssertionError) as failure:
        paradigm_emulator.assert_called("chat", model="alfred-4")

    assert str(failure.value) == (
        "expected 1 request to 'chat' with model='alfred-4', but 0 matched (2 seen in this test).\n"
        "Requests to 'chat' whose body differs:\n"
        "  #1 POST /api/v2/chat/completions -> 200 (last user message 'Where is the invoice?'): "
        "model is 'alfred-4.2', expected 'alfred-4'\n"
        "Other requests seen:\n"
        "  #2 GET /api/v2/models -> 200")


def test_every_test_starts_with_an_empty_journal(paradigm_emulator):
    assert paradigm_emulator.requests == ()
