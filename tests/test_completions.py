"""POST /api/v2/completions: the legacy text completions, with echo, suffix, best_of and logprobs."""

# ruff: noqa: F811  (pytest fixtures imported from contract are redefined as arguments)

from __future__ import annotations

import pytest
from contract import api, contract, sdk  # noqa: F401  (fixtures)

from emulator.tokenizer import count, tokenize

COMPLETIONS = "/api/v2/completions"
PROMPT = "Once upon a time"


def complete(api, **body) -> dict:
    response = api.post(COMPLETIONS, json={"model": "alfred-4.2", "prompt": PROMPT, **body})
    assert response.status_code == 200, response.text
    return response.json()


def test_completion_through_the_sdk(sdk):
    response = sdk.completions.create(model="alfred-4.2", prompt=PROMPT, max_tokens=100, temperature=0.7)
    assert response.object == "text_completion" and response.id.startswith("cmpl-")
    assert response.choices[0].text.startswith(" ")  # a continuation of the prompt
    assert response.usage.prompt_tokens == count(PROMPT)
    assert response.usage.completion_tokens == count(response.choices[0].text)


def test_a_prompt_ending_in_a_space_is_not_continued_with_another(api):
    text = complete(api, prompt="Hello, ", max_tokens=4)["choices"][0]["text"]
    assert not text.startswith(" ")


def test_max_tokens_and_length(api):
    body = complete(api, max_tokens=6)
    assert body["usage"]["completion_tokens"] == 6 == count(body["choices"][0]["text"])
    assert body["choices"][0]["finish_reason"] == "length"


def test_stop_cuts_the_text(api):
    full = complete(api)["choices"][0]["text"]
    stop = full.split()[2]
    choice = complete(api, stop=[stop])["choices"][0]
    assert choice["text"] == full[: full.index(stop)]
    assert (choice["finish_reason"], choice["stop_reason"]) == ("stop", stop)


def test_echo_puts_the_prompt_first(api):
    plain = complete(api, max_tokens=5)["choices"][0]["text"]
    echoed = complete(api, max_tokens=5, echo=True)
    assert echoed["choices"][0]["text"] == PROMPT + plain
    assert echoed["usage"]["completion_tokens"] == 5  # the prompt is not counted twice
    assert echoed["usage"]["prompt_tokens"] == count(PROMPT)


def test_logprobs_have_the_legacy_shape(api):
    choice = complete(api, max_tokens=8, logprobs=3)["choices"][0]
    lp = choice["logprobs"]
    assert "".join(lp["tokens"]) == choice["text"]
    assert (
        len(lp["tokens"])
        == len(lp["token_logprobs"])
        == len(lp["top_logprobs"])
        == len(lp["text_offset"])
        == 8
    )
    offsets = [0]
    for token in lp["tokens"][:-1]:
        offsets.append(offsets[-1] + len(token))
    assert lp["text_offset"] == offsets
    for token, logprob, top in zip(lp["tokens"], lp["token_logprobs"], lp["top_logprobs"], strict=True):
        assert len(top) == 3 and top[token] == logprob == max(top.values())


def test_logprobs_zero_gives_the_chosen_tokens_only(api):
    lp = complete(api, max_tokens=3, logprobs=0)["choices"][0]["logprobs"]
    assert len(lp["token_logprobs"]) == 3 and lp["top_logprobs"] == [{}, {}, {}]


def test_echo_with_logprobs_starts_with_a_null(api):
    choice = complete(api, max_tokens=4, logprobs=1, echo=True)["choices"][0]
    lp = choice["logprobs"]
    prompt_tokens = tokenize(PROMPT)
    assert lp["tokens"][: len(prompt_tokens)] == prompt_tokens
    assert lp["token_logprobs"][0] is None and lp["top_logprobs"][0] is None
    assert all(isinstance(v, float) for v in lp["token_logprobs"][1:])
    assert "".join(lp["tokens"]) == choice["text"]
    assert lp["text_offset"][len(prompt_tokens)] == len(PROMPT)


def test_suffix_is_accepted_and_shapes_the_text(api):
    plain = complete(api, max_tokens=12, temperature=0.8)["choices"][0]["text"]
    with_suffix = complete(api, max_tokens=12, temperature=0.8, suffix=" The end.")["choices"][0]["text"]
    assert with_suffix and with_suffix != plain


def test_best_of_returns_n_of_its_candidates(api):
    candidates = {c["text"] for c in complete(api, max_tokens=8, n=4, temperature=1)["choices"]}
    best = complete(api, max_tokens=8, n=2, best_of=4, temperature=1)
    assert [c["index"] for c in best["choices"]] == [0, 1]
    assert {c["text"] for c in best["choices"]} <= candidates
    assert best["usage"]["completion_tokens"] == 16


@pytest.mark.parametrize("n", [1, 3])
def test_n_completions(api, n):
    body = complete(api, max_tokens=5, n=n)
    assert [c["index"] for c in body["choices"]] == list(range(n))
    assert body["usage"]["completion_tokens"] == 5 * n


def test_seed_004_body_with_only_a_model(api):
    """The curl example of the docs sends nothing but the model: an empty prompt still completes."""
    body = api.post(COMPLETIONS, json={"model": "alfred-40b-1123"}).json()
    assert body["usage"]["prompt_tokens"] == 0 and body["choices"][0]["text"]
