"""The deterministic generator, as a unit: what shapes the text, and what only cuts it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from emulator.generation import text as generator
from emulator.generation.text import Limits, choice, generate_text, logprobs_for, request_key, rng_for
from emulator.tokenizer import tokenize

KEY = request_key(0, "alfred-4.2", {"messages": [{"role": "user", "content": "Hi"}]}, 0)
ROOMY = Limits(max_tokens=10_000)


def test_request_key_ignores_key_order():
    assert request_key({"a": 1, "b": [1, 2]}) == request_key({"b": [1, 2], "a": 1})
    assert request_key({"a": 1}) != request_key({"a": 2})


def test_rng_salt_gives_another_stream():
    assert rng_for(KEY).random() == rng_for(KEY).random() != rng_for(KEY, "salt").random()


def test_same_key_same_pieces():
    assert generate_text(KEY, ROOMY) == generate_text(KEY, ROOMY)


def test_text_is_prose():
    pieces, finish, stop_reason = generate_text(KEY, ROOMY)
    text = "".join(pieces)
    assert finish == "stop" and stop_reason is None
    assert text[0].isupper() and text.endswith(".")
    assert generator.MIN_SENTENCES <= text.count(".") <= generator.MAX_SENTENCES


def test_pieces_are_the_tokenizers():
    pieces, _, _ = generate_text(KEY, ROOMY)
    assert tokenize("".join(pieces)) == pieces


@pytest.mark.parametrize("budget", [1, 3, 10])
def test_a_budget_gives_a_prefix_of_that_length(budget):
    full, _, _ = generate_text(KEY, ROOMY)
    cut, finish, _ = generate_text(KEY, Limits(max_tokens=budget))
    assert cut == full[:budget] and finish == "length"


def test_stop_cuts_at_the_earliest_match():
    full = "".join(generate_text(KEY, ROOMY)[0])
    words = full.split()
    pieces, finish, stop_reason = generate_text(KEY, Limits(max_tokens=10_000, stop=(words[3], words[1])))
    assert "".join(pieces) == full[: full.index(words[1])]
    assert (finish, stop_reason) == ("stop", words[1])


def test_a_stop_that_never_matches_changes_nothing():
    assert generate_text(KEY, Limits(max_tokens=10_000, stop=("§§", ""))) == generate_text(KEY, ROOMY)


def test_ignore_eos_runs_to_the_budget():
    pieces, finish, _ = generate_text(KEY, Limits(max_tokens=300, ignore_eos=True))
    assert (len(pieces), finish) == (300, "length")


def test_min_tokens_keeps_going():
    natural = len(generate_text(KEY, ROOMY)[0])
    pieces, finish, _ = generate_text(KEY, Limits(max_tokens=10_000, min_tokens=natural + 20))
    assert len(pieces) >= natural + 20 and finish == "stop"


def test_leading_space_for_continuations():
    assert "".join(generate_text(KEY, Limits(max_tokens=3, leading_space=True))[0]).startswith(" ")
    assert not "".join(generate_text(KEY, Limits(max_tokens=3))[0]).startswith(" ")


def test_logprobs_are_deterministic_and_the_chosen_token_leads():
    pieces = tokenize("The quick brown fox")
    made = logprobs_for(KEY, pieces, 4)
    assert made == logprobs_for(KEY, pieces, 4)
    for lp, piece in zip(made, pieces, strict=True):
        assert lp.token == piece and lp.top[0] == (piece, lp.logprob) and lp.logprob <= 0
        assert all(value < lp.logprob for _, value in lp.top[1:])
        assert len({token for token, _ in lp.top}) == len(lp.top)


def test_choice_carries_logprobs_only_when_asked():
    assert choice(0, KEY, Limits(max_tokens=4)).logprobs is None
    assert len(choice(0, KEY, Limits(max_tokens=4), logprobs=0).logprobs) == 4


def test_output_is_the_same_in_another_process():
    """No dependence on hash randomisation or process state: a fresh interpreter agrees byte for byte."""
    script = (
        "import json; from emulator.generation.text import *; "
        "k = request_key(0, 'alfred-4.2', {'messages': [{'role': 'user', 'content': 'Hi'}]}, 0); "
        "print(json.dumps(generate_text(k, Limits(max_tokens=10000))))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        check=True,
    ).stdout
    pieces, finish, stop_reason = generate_text(KEY, ROOMY)
    assert json.loads(out) == [pieces, finish, stop_reason]


@pytest.mark.parametrize("leading_space", [False, True])
def test_sentence_pieces_are_the_tokens_of_the_same_sentences(leading_space):
    from emulator.generation.text import rng_for, sentence_pieces, sentences

    texts = sentences(rng_for(KEY), leading_space)
    pieces = sentence_pieces(rng_for(KEY), leading_space)
    for _ in range(200):
        text, cut = next(texts), next(pieces)
        assert list(cut) == tokenize(text) and "".join(cut) == text
