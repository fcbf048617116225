"""POST /api/v2|v3/embeddings: deterministic unit vectors whose geometry means something."""

# ruff: noqa: F811  (pytest fixtures imported from contract are redefined as arguments)

from __future__ import annotations

import base64
import math
import struct
import uuid

import pytest
from contract import api, contract, sdk, sdk_v3  # noqa: F401  (fixtures)

from emulator.generation.vectors import cosine
from emulator.tokenizer import count

EMBEDDINGS = "/api/v2/embeddings"
MODEL = "multilingual-e5-large"


def embed(api, path: str = EMBEDDINGS, **body) -> dict:
    response = api.post(path, json={"model": MODEL, **body})
    assert response.status_code == 200, response.text
    return response.json()


def norm(vector) -> float:
    return math.sqrt(sum(v * v for v in vector))


def test_sdk_embeds_a_text(sdk):
    response = sdk.embeddings.create(model=MODEL, input="Text to embed")
    vector = response.data[0].embedding
    assert len(vector) == 1024 and norm(vector) == pytest.approx(1.0, abs=1e-6)
    assert response.usage.prompt_tokens == response.usage.total_tokens == count("Text to embed")


def test_response_has_paradigms_extra_id(api):
    body = embed(api, input="Text to embed")
    assert str(uuid.UUID(body["id"])) == body["id"]
    assert (body["object"], body["model"], body["data"][0]["object"], body["data"][0]["index"]) == (
        "list",
        MODEL,
        "embedding",
        0,
    )


def test_v3_embeds_like_v2(api):
    assert embed(api, "/api/v3/embeddings", input="same")["data"] == embed(api, input="same")["data"]


@pytest.mark.parametrize(
    "value, expected",
    [
        pytest.param("one text", 1, id="string"),
        pytest.param(["first text", "second text", "third"], 3, id="list-of-strings"),
        pytest.param([101, 2023, 2003, 102], 1, id="token-ids"),
        pytest.param([[101, 2023], [7, 8, 9]], 2, id="lists-of-token-ids"),
    ],
)
def test_input_kinds(api, value, expected):
    body = embed(api, input=value)
    assert [item["index"] for item in body["data"]] == list(range(expected))
    assert all(len(item["embedding"]) == 1024 for item in body["data"])


def test_token_ids_count_as_themselves(api):
    assert embed(api, input=[[1, 2, 3], [4, 5]])["usage"] == {"prompt_tokens": 5, "total_tokens": 5}


def test_same_text_same_vector(api):
    body = embed(api, input=["repeat me", "repeat me", "something else"])
    vectors = [item["embedding"] for item in body["data"]]
    assert vectors[0] == vectors[1] != vectors[2]


@pytest.mark.parametrize("dimensions", [1, 64, 256, 1024])
def test_dimensions_shortens_and_renormalises(api, dimensions):
    full = embed(api, input="matryoshka")["data"][0]["embedding"]
    short = embed(api, input="matryoshka", dimensions=dimensions)["data"][0]["embedding"]
    assert len(short) == dimensions and norm(short) == pytest.approx(1.0, abs=1e-6)
    scale = norm(full[:dimensions])
    assert short == pytest.approx([v / scale for v in full[:dimensions]], abs=1e-6)


def test_base64_is_little_endian_float32_of_the_floats(api) -> None:
    floats = embed(api, input=["base64 please", "and me"])["data"]
    encoded = embed(api, input=["base64 please", "and me"], encoding_format="base64")["data"]
    assert len(floats) == len(encoded) == 2
    for as_float, as_text in zip(floats, encoded, strict=True):
        raw = base64.b64decode(as_text["embedding"])
        assert len(raw) == 4 * 1024
        assert list(struct.unpack("<1024f", raw)) == as_float["embedding"]


def test_sdk_default_base64_decodes_to_the_float_answer(sdk, api):
    """The SDK asks for base64 unless told otherwise, and decodes it itself."""
    decoded = sdk.embeddings.create(model=MODEL, input="decode me").data[0].embedding
    assert decoded == embed(api, input="decode me")["data"][0]["embedding"]


def test_shared_words_are_closer_than_unrelated_texts(api):
    query, related, unrelated = (
        item["embedding"]
        for item in embed(
            api,
            input=[
                "How do I reset my password?",
                "To reset your password, open the settings page.",
                "The annual revenue grew by twelve percent.",
            ],
        )["data"]
    )
    assert cosine(query, related) > cosine(query, unrelated) + 0.1


def test_retrieval_ranks_the_right_document_first(sdk_v3):
    documents = [
        "Paris is the capital of France.",
        "Bananas are rich in potassium.",
        "The Rhine flows through Germany.",
        "Python is a programming language.",
    ]
    vectors = [d.embedding for d in sdk_v3.embeddings.create(model=MODEL, input=documents).data]
    query = sdk_v3.embeddings.create(model=MODEL, input="What is the capital of France?").data[0].embedding
    ranked = sorted(range(len(documents)), key=lambda i: -cosine(query, vectors[i]))
    assert ranked[0] == 0


def test_form_urlencoded_embeddings(api):
    as_form = api.post(EMBEDDINGS, data={"model": MODEL, "input": "form text", "dimensions": "8"})
    assert as_form.status_code == 200
    assert as_form.json()["data"] == embed(api, input="form text", dimensions=8)["data"]
