"""POST /api/v2|v3/chat/completions through the openai SDK (sync and async) and raw HTTP."""

# ruff: noqa: F811  (pytest fixtures imported from contract are redefined as arguments)

from __future__ import annotations

import json

import pytest
from contract import api, async_sdk, contract, sdk, sdk_v3  # noqa: F401  (fixtures)

from emulator.tokenizer import chat_prompt, count

CHAT = "/api/v2/chat/completions"
HELLO = [{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Hello!"}]


def test_chat_answers_through_the_sdk(sdk):
    response = sdk.chat.completions.create(model="alfred-4.2", messages=HELLO)
    choice = response.choices[0]
    assert response.object == "chat.completion" and response.model == "alfred-4.2"
    assert response.id.startswith("chatcmpl-") and response.created == 1735689600
    assert choice.message.role == "assistant" and choice.message.content
    assert choice.finish_reason == "stop"


def test_v3_answers_like_v2(sdk, sdk_v3):
    v2 = sdk.chat.completions.create(model="alfred-4.2", messages=HELLO, max_tokens=12)
    v3 = sdk_v3.chat.completions.create(model="alfred-4.2", messages=HELLO, max_tokens=12)
    assert v3.choices[0].message.content == v2.choices[0].message.content


@pytest.mark.anyio
async def test_async_sdk_answers(async_sdk, sdk):
    answer = await async_sdk.chat.completions.create(model="alfred-4", messages=HELLO, max_tokens=7)
    same = sdk.chat.completions.create(model="alfred-4", messages=HELLO, max_tokens=7)
    assert answer.choices[0].message.content == same.choices[0].message.content
    assert answer.usage.completion_tokens == 7


@pytest.mark.parametrize(
    "messages",
    [
        pytest.param(HELLO, id="system-and-user"),
        pytest.param(
            [
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "Describe"}, {"type": "text", "text": "this"}],
                }
            ],
            id="content-parts",
        ),
        pytest.param(
            [
                {"role": "user", "content": "What is 2+2?"},
                {"role": "assistant", "content": None, "function_call": {"name": "add", "arguments": "{}"}},
                {"role": "function", "name": "add", "content": "4"},
            ],
            id="function-turn",
        ),
        pytest.param([{"role": "user", "content": "Où est la gare ? 東京"}], id="unicode"),
    ],
)
def test_usage_agrees_with_the_tokenizer(sdk, messages):
    response = sdk.chat.completions.create(model="alfred-4.2", messages=messages, max_tokens=40)
    content = response.choices[0].message.content
    assert response.usage.prompt_tokens == count(chat_prompt(messages))
    assert response.usage.completion_tokens == count(content)
    assert response.usage.total_tokens == response.usage.prompt_tokens + response.usage.completion_tokens


@pytest.mark.parametrize("max_tokens", [1, 2, 5, 17])
def test_max_tokens_gives_exactly_that_many_tokens(sdk, max_tokens):
    response = sdk.chat.completions.create(model="alfred-4.2", messages=HELLO, max_tokens=max_tokens)
    assert response.usage.completion_tokens == max_tokens == count(response.choices[0].message.content)
    assert response.choices[0].finish_reason == "length"


def test_without_max_tokens_the_answer_ends_naturally(api):
    choice = api.post(CHAT, json={"model": "alfred-4.2", "messages": HELLO}).json()["choices"][0]
    assert (choice["finish_reason"], choice["stop_reason"]) == ("stop", None)
    assert choice["message"]["content"].endswith(".")


def test_stop_cuts_before_the_stop_string(api):
    full = api.post(CHAT, json={"model": "alfred-4.2", "messages": HELLO}).json()["choices"][0]["message"][
        "content"
    ]
    stop = full.split()[3]  # a word well inside the text
    choice = api.post(
        CHAT, json={"model": "alfred-4.2", "messages": HELLO, "stop": ["zzz-never", stop]}
    ).json()["choices"][0]
    assert choice["message"]["content"] == full[: full.index(stop)]
    assert (choice["finish_reason"], choice["stop_reason"]) == ("stop", stop)


def test_earliest_stop_string_wins(api):
    full = api.post(CHAT, json={"model": "alfred-4.2", "messages": HELLO}).json()["choices"][0]["message"][
        "content"
    ]
    words = full.split()
    choice = api.post(
        CHAT, json={"model": "alfred-4.2", "messages": HELLO, "stop": [words[4], words[2]]}
    ).json()["choices"][0]
    assert choice["stop_reason"] == words[2]


@pytest.mark.parametrize("n", [2, 4])
def test_n_choices_are_indexed_and_differ_above_temperature_zero(sdk, n):
    response = sdk.chat.completions.create(
        model="alfred-4.2", messages=HELLO, n=n, temperature=0.8, max_tokens=20
    )
    assert [c.index for c in response.choices] == list(range(n))
    assert len({c.message.content for c in response.choices}) == n
    assert response.usage.completion_tokens == sum(count(c.message.content) for c in response.choices)


def test_at_temperature_zero_every_choice_is_the_same(sdk):
    response = sdk.chat.completions.create(
        model="alfred-4.2", messages=HELLO, n=3, temperature=0, max_tokens=20
    )
    assert len({c.message.content for c in response.choices}) == 1


def test_sampling_parameters_are_accepted(sdk):
    response = sdk.chat.completions.create(
        model="alfred-4",
        messages=HELLO,
        temperature=0.7,
        top_p=0.9,
        presence_penalty=0.5,
        frequency_penalty=1.2,
        logit_bias={"1234": -100},
        user="tom",
        max_tokens=150,
        seed=7,
    )
    assert response.choices[0].message.content


def test_logprobs_in_the_chat_format(sdk):
    response = sdk.chat.completions.create(
        model="alfred-4.2", messages=HELLO, max_tokens=12, logprobs=True, top_logprobs=3
    )
    choice = response.choices[0]
    tokens = choice.logprobs.content
    assert "".join(t.token for t in tokens) == choice.message.content
    assert len(tokens) == response.usage.completion_tokens
    for token in tokens:
        assert token.bytes == list(token.token.encode("utf-8"))
        assert len(token.top_logprobs) == 3
        assert token.top_logprobs[0].token == token.token and token.top_logprobs[0].logprob == token.logprob
        assert all(alt.logprob <= token.logprob <= 0 for alt in token.top_logprobs)


def test_logprobs_without_top_logprobs_lists_none(sdk):
    response = sdk.chat.completions.create(model="alfred-4.2", messages=HELLO, max_tokens=4, logprobs=True)
    assert [t.top_logprobs for t in response.choices[0].logprobs.content] == [[]] * 4


def test_no_logprobs_unless_asked(api):
    body = api.post(CHAT, json={"model": "alfred-4.2", "messages": HELLO, "max_tokens": 3}).json()
    assert body["choices"][0]["logprobs"] is None


def test_model_may_be_named_by_its_display_name(api):
    body = api.post(CHAT, json={"model": "Alfred 4.2", "messages": HELLO, "max_tokens": 3}).json()
    assert body["model"] == "Alfred 4.2"


def _form_messages() -> dict[str, str]:
    return {
        "model": "alfred-4",
        "max_tokens": "9",
        "temperature": "0.5",
        "messages[0][role]": "system",
        "messages[0][content]": HELLO[0]["content"],
        "messages[1][role]": "user",
        "messages[1][content]": HELLO[1]["content"],
    }


def test_form_urlencoded_body_answers_as_json_would(api):
    as_json = api.post(
        CHAT, json={"model": "alfred-4", "max_tokens": 9, "temperature": 0.5, "messages": HELLO}
    )
    as_form = api.post(CHAT, data=_form_messages())
    assert as_form.status_code == 200
    assert as_form.content == as_json.content


def test_multipart_body_answers_as_json_would(api):
    as_json = api.post(
        CHAT, json={"model": "alfred-4", "max_tokens": 9, "temperature": 0.5, "messages": HELLO}
    )
    fields = {"model": "alfred-4", "max_tokens": "9", "temperature": "0.5", "messages": json.dumps(HELLO)}
    as_multipart = api.post(CHAT, files={name: (None, value) for name, value in fields.items()})
    assert as_multipart.status_code == 200
    assert as_multipart.content == as_json.content


def test_form_body_is_validated_like_json(api):
    response = api.post(CHAT, data={"model": "alfred-4", "max_tokens": "lots"})
    assert response.status_code == 400
    assert response.json() == {
        "messages": ["This field is required."],
        "max_tokens": ["A valid integer is required."],
    }
