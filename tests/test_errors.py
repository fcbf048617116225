"""Errors shaped as the two layers of the real stack shape them: DRF in front, vLLM behind."""

# ruff: noqa: F811  (pytest fixtures imported from contract are redefined as arguments)

from __future__ import annotations

import openai
import pytest
from contract import api, contract, sdk, vllm_error  # noqa: F401  (fixtures)

CHAT = "/api/v2/chat/completions"
COMPLETIONS = "/api/v2/completions"
EMBEDDINGS = "/api/v2/embeddings"
HELLO = [{"role": "user", "content": "Hello!"}]


# --- API layer (DRF) -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, body, expected",
    [
        pytest.param(
            CHAT,
            {},
            {"model": ["This field is required."], "messages": ["This field is required."]},
            id="chat-empty-body",
        ),
        pytest.param(
            CHAT,
            {"model": "alfred-4", "messages": [{"content": "Hi"}], "max_tokens": "many", "n": 1.5},
            {
                "messages": [{"role": ["This field is required."]}],
                "max_tokens": ["A valid integer is required."],
                "n": ["A valid integer is required."],
            },
            id="chat-every-field-named",
        ),
        pytest.param(
            CHAT,
            {"model": 42, "messages": "Hello"},
            {"model": ["Not a valid string."], "messages": ['Expected a list of items but got type "str".']},
            id="chat-wrong-types",
        ),
        pytest.param(
            CHAT,
            {
                "model": "alfred-4",
                "messages": [{"role": "user", "content": "Hi"}, {"role": "robot", "content": "Hi"}],
            },
            {"messages": [{}, {"role": ['"robot" is not a valid choice.']}]},
            id="chat-bad-role-second-item",
        ),
        pytest.param(
            CHAT,
            {"model": "alfred-4", "messages": HELLO, "stream": "often", "temperature": "hot"},
            {"stream": ["Must be a valid boolean."], "temperature": ["A valid number is required."]},
            id="chat-bad-scalars",
        ),
        pytest.param(
            COMPLETIONS,
            {"prompt": "Hi", "stop": "x"},
            {"model": ["This field is required."], "stop": ['Expected a list of items but got type "str".']},
            id="completions-missing-model",
        ),
        pytest.param(
            EMBEDDINGS,
            {"input": "x", "encoding_format": "hex"},
            {"model": ["This field is required."], "encoding_format": ['"hex" is not a valid choice.']},
            id="embeddings-bad-format",
        ),
        pytest.param(
            CHAT,
            [1, 2],
            {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]},
            id="not-an-object",
        ),
    ],
)
def test_invalid_body_names_every_invalid_field(api, path, body, expected):
    response = api.post(path, json=body)
    assert response.status_code == 400
    assert response.json() == expected


@pytest.mark.parametrize(
    "raw, reason",
    [
        pytest.param(
            b'{"model": "alfred-4",', "Expecting property name enclosed in double quotes", id="truncated"
        ),
        pytest.param(
            b"{'model': 'alfred-4'}", "Expecting property name enclosed in double quotes", id="single-quotes"
        ),
        pytest.param(b'{"model": NaN}', "Out of range float values are not JSON compliant: NaN", id="nan"),
        pytest.param(b'\xff\xfe{"a": 1}', "'utf-8' codec can't decode byte 0xff", id="not-utf8"),
    ],
)
def test_malformed_json_is_a_parse_error(api, raw, reason):
    response = api.post(CHAT, content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert detail.startswith("JSON parse error - ") and reason in detail


def test_unknown_path_is_drf_not_found(api):
    response = api.get("/api/v2/no-such-thing")
    assert (response.status_code, response.json()) == (404, {"detail": "Not found."})


def test_unsupported_content_type_is_415(api):
    response = api.post(CHAT, content=b"model=alfred-4", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    assert response.json() == {"detail": 'Unsupported media type "text/plain" in request.'}


def test_wrong_method_is_405_with_allow(api):
    response = api.delete("/api/v2/models")
    assert response.status_code == 405
    assert response.json() == {"detail": 'Method "DELETE" not allowed.'}
    assert response.headers["allow"] == "GET, HEAD"


# --- model server layer (vLLM) ---------------------------------------------------------------


@pytest.mark.parametrize(
    "path, body, status, expected",
    [
        pytest.param(
            CHAT,
            {"model": "gpt-4o", "messages": HELLO},
            404,
            vllm_error("The model `gpt-4o` does not exist.", "model", 404, "NotFoundError"),
            id="chat-unknown-model",
        ),
        pytest.param(
            EMBEDDINGS,
            {"model": "nomic", "input": "x"},
            404,
            vllm_error("The model `nomic` does not exist.", "model", 404, "NotFoundError"),
            id="embeddings-unknown-model",
        ),
        pytest.param(
            CHAT,
            {"model": "multilingual-e5-large", "messages": HELLO},
            400,
            vllm_error("The model `multilingual-e5-large` does not support Chat Completions API.", "model"),
            id="embedding-model-asked-to-chat",
        ),
        pytest.param(
            COMPLETIONS,
            {"model": "multilingual-e5-large", "prompt": "x"},
            400,
            vllm_error("The model `multilingual-e5-large` does not support Completions API.", "model"),
            id="embedding-model-asked-to-complete",
        ),
        pytest.param(
            EMBEDDINGS,
            {"model": "alfred-4", "input": "x"},
            400,
            vllm_error("The model `alfred-4` does not support Embeddings API.", "model"),
            id="chat-model-asked-to-embed",
        ),
        pytest.param(
            CHAT,
            {"model": "alfred-4", "messages": HELLO, "max_tokens": 8190},
            400,
            vllm_error(
                "This model's maximum context length is 8192 tokens. However, you requested 8204 tokens "
                "(14 in the messages, 8190 in the completion). Please reduce the length of the messages "
                "or completion."
            ),
            id="context-window",
        ),
        pytest.param(
            COMPLETIONS,
            {"model": "alfred-4", "prompt": " ".join(["word"] * 8192)},
            400,
            vllm_error(
                "This model's maximum context length is 8192 tokens. However, you requested 8192 tokens "
                "in the messages, Please reduce the length of the messages."
            ),
            id="prompt-fills-the-window",
        ),
        pytest.param(
            CHAT,
            {"model": "alfred-4", "messages": HELLO, "n": 0},
            400,
            vllm_error("n must be at least 1, got 0.", "n"),
            id="n-zero",
        ),
        pytest.param(
            CHAT,
            {"model": "alfred-4", "messages": HELLO, "n": 129},
            400,
            vllm_error("n must be at most 128, got 129.", "n"),
            id="n-too-large",
        ),
        pytest.param(
            COMPLETIONS,
            {"model": "alfred-4", "prompt": "x", "n": 3, "best_of": 2},
            400,
            vllm_error("best_of must be greater than or equal to n, got n=3 and best_of=2.", "best_of"),
            id="best-of-below-n",
        ),
        pytest.param(
            COMPLETIONS,
            {"model": "alfred-4", "prompt": "x", "best_of": 500},
            400,
            vllm_error("best_of must be at most 128, got 500.", "best_of"),
            id="best-of-too-large",
        ),
        pytest.param(
            COMPLETIONS,
            {"model": "alfred-4", "prompt": "x", "best_of": 2, "stream": True},
            400,
            vllm_error("best_of is not supported with streaming.", "best_of"),
            id="best-of-stream",
        ),
        pytest.param(
            CHAT,
            {"model": "alfred-4", "messages": HELLO, "max_tokens": 0},
            400,
            vllm_error("max_tokens must be at least 1, got 0.", "max_tokens"),
            id="max-tokens-zero",
        ),
        pytest.param(
            CHAT,
            {"model": "alfred-4", "messages": HELLO, "temperature": -1},
            400,
            vllm_error("temperature must be non-negative, got -1.0.", "temperature"),
            id="negative-temperature",
        ),
        pytest.param(
            CHAT,
            {"model": "alfred-4", "messages": HELLO, "top_p": 0},
            400,
            vllm_error("top_p must be in (0, 1], got 0.0.", "top_p"),
            id="top-p-zero",
        ),
        pytest.param(
            CHAT,
            {"model": "alfred-4", "messages": HELLO, "presence_penalty": 3},
            400,
            vllm_error("presence_penalty must be in [-2, 2], got 3.0.", "presence_penalty"),
            id="penalty",
        ),
        pytest.param(
            CHAT,
            {"model": "alfred-4", "messages": HELLO, "logprobs": True, "top_logprobs": 21},
            400,
            vllm_error("Requested sample logprobs of 21, which is greater than max allowed: 20", "logprobs"),
            id="too-many-logprobs",
        ),
        pytest.param(
            CHAT,
            {"model": "alfred-4", "messages": HELLO, "top_logprobs": 2},
            400,
            vllm_error("when using `top_logprobs`, `logprobs` must be set to true.", "top_logprobs"),
            id="top-logprobs-without-logprobs",
        ),
        pytest.param(
            CHAT,
            {"model": "alfred-4", "messages": HELLO, "max_tokens": 5, "min_tokens": 6},
            400,
            vllm_error("min_tokens must be less than or equal to max_tokens=5, got 6.", "min_tokens"),
            id="min-tokens-above-max-tokens",
        ),
        pytest.param(
            COMPLETIONS,
            {"model": "alfred-4", "prompt": "x", "logprobs": -1},
            400,
            vllm_error("logprobs must be non-negative, got -1.", "logprobs"),
            id="negative-logprobs",
        ),
        pytest.param(
            EMBEDDINGS,
            {"model": "multilingual-e5-large", "input": "x", "dimensions": 2048},
            400,
            vllm_error("dimensions must be between 1 and 1024, got 2048.", "dimensions"),
            id="dimensions",
        ),
        pytest.param(
            EMBEDDINGS,
            {"model": "multilingual-e5-large", "input": []},
            400,
            vllm_error("Input must not be empty.", "input"),
            id="empty-input",
        ),
        pytest.param(
            EMBEDDINGS,
            {"model": "multilingual-e5-large", "input": " ".join(["word"] * 600)},
            400,
            vllm_error(
                "This model's maximum context length is 512 tokens. However, you requested 600 tokens in "
                "the input for embedding generation. Please reduce the length of the input."
            ),
            id="embedding-input-too-long",
        ),
    ],
)
def test_model_server_errors_have_vllm_shape(api, path, body, status, expected):
    response = api.post(path, json=body)
    assert response.status_code == status
    assert response.json() == expected


def test_sdk_raises_not_found_for_an_unknown_model(sdk):
    with pytest.raises(openai.NotFoundError) as raised:
        sdk.chat.completions.create(model="gpt-4o", messages=HELLO)
    assert raised.value.status_code == 404
    assert raised.value.body["message"] == "The model `gpt-4o` does not exist."


def test_sdk_raises_bad_request_with_the_drf_field_dict(sdk):
    with pytest.raises(openai.BadRequestError) as raised:
        sdk.chat.completions.create(model="alfred-4", messages=[{"content": "no role"}])
    assert raised.value.body == {"messages": [{"role": ["This field is required."]}]}


def test_error_response_is_not_cached_state(api):
    """A rejected request leaves nothing behind: the same valid request still answers."""
    api.post(CHAT, json={"model": "alfred-4", "messages": HELLO, "n": 0})
    assert api.post(CHAT, json={"model": "alfred-4", "messages": HELLO, "max_tokens": 3}).status_code == 200
