"""How to script the answer your application gets, and point the application at the emulator.

The application below reads its configuration from the environment, as Paradigm's own guides
do (PARADIGM_BASE_URL, PARADIGM_API_KEY). ``paradigm_emulator`` sets both for the length of a
test, so the application reaches the emulator without a line of test-only code, even from a
subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from openai import OpenAI


def answer(question: str) -> str:
    """The code under test: one chat call, configured from the environment."""
    client = OpenAI(
        api_key=os.environ["PARADIGM_API_KEY"], base_url=os.environ["PARADIGM_BASE_URL"], max_retries=0
    )
    with client:
        response = client.chat.completions.create(
            model="alfred-4.2", messages=[{"role": "user", "content": question}]
        )
    return response.choices[0].message.content


def test_a_scripted_reply_reaches_the_application(paradigm_emulator):
    paradigm_emulator.on_chat(contains="capital of France").reply("Paris.")

    assert answer("What is the capital of France?") == "Paris."


def test_a_reply_can_quote_the_request(paradigm_emulator):
    paradigm_emulator.on_chat(contains="echo").reply("You said: {{last_user_message}} (to {{model}})")

    assert answer("echo this") == "You said: echo this (to alfred-4.2)"


def test_the_first_matching_rule_wins_and_unmatched_calls_get_generated_text(paradigm_emulator):
    paradigm_emulator.on_chat(contains="hello").reply("Hi!")
    paradigm_emulator.on_chat(contains="hello world").reply("never: the rule above matches first")

    assert answer("hello world") == "Hi!"
    assert answer("something else")  # deterministic generated text: same request, same answer
    assert answer("something else") == answer("something else")


def test_a_sequence_answers_call_after_call_and_repeats_its_last(paradigm_emulator):
    paradigm_emulator.on_chat().reply("first").then_reply("second")

    assert [answer("q") for _ in range(3)] == ["first", "second", "second"]


def test_a_rule_can_stop_after_some_uses(paradigm_emulator):
    paradigm_emulator.on_chat(contains="joke").reply("Knock knock.").once()

    assert answer("tell me a joke") == "Knock knock."
    assert answer("tell me a joke") != "Knock knock."  # used up: the generator answers again


def test_the_ready_client_fixture(paradigm_emulator, paradigm_client):
    paradigm_emulator.on_chat(model="alfred-4").reply("from alfred-4")

    response = paradigm_client.chat.completions.create(
        model="alfred-4", messages=[{"role": "user", "content": "hi"}]
    )

    assert response.choices[0].message.content == "from alfred-4"


def test_a_subprocess_reaches_the_emulator_through_the_environment(paradigm_emulator):
    paradigm_emulator.on_chat(contains="ping").reply("pong")
    script = ("import os; from openai import OpenAI; "
              "c = OpenAI(api_key=os.environ['PARADIGM_API_KEY'], base_url=os.environ['PARADIGM_BASE_URL']); "
              "print(c.chat.completions.create(model='alfred-4.2', "
              "messages=[{'role': 'user', 'content': 'ping'}]).choices[0].message.content)")

    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )

    assert done.stdout.strip() == "pong"


@pytest.mark.paradigm(fixtures="tests/examples/fixtures")
def test_fixture_files_load_with_a_marker(paradigm_emulator):
    assert answer("Can I get a refund?") == "Refunds are accepted within 30 days."


@pytest.mark.paradigm(seed=7)
def test_a_seed_changes_every_generated_answer(paradigm_emulator):
    assert paradigm_emulator.settings.seed == 7
    assert answer("same question") == answer("same question")
