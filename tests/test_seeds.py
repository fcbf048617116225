"""Every code example of the Paradigm doc pages (seeds 000-004), run against the emulator.

The examples are copied as the docs write them; only the base URL changes, and the
placeholder model names ("your-model-name") become models the catalog has. ``OpenAI``
below is the SDK's own client with a transport that checks every answer against the
spec, so the examples' code stays as it is. Seeds 002 and 003 embed their OpenAPI
operation: its request examples are sent as they are, and the answers are checked
against the docs' own response schema as well as the emulator's.
"""

# ruff: noqa: F811  (pytest fixtures imported from contract are redefined as arguments)

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import httpx
import openai
import pytest
import yaml
from contract import KEY, api, checking_hooks, contract, parse_sse  # noqa: F401  (fixtures)
from jsonschema import Draft7Validator

from emulator.spec import _Resolver

SEEDS = Path(__file__).resolve().parent / "seeds"  # the doc pages the tests read, copied into the repo
CHAT_MODEL, EMBEDDING_MODEL = "alfred-4.2", "multilingual-e5-large"


@pytest.fixture
def OpenAI(contract):  # noqa: N802  (it stands for the class the examples import)
    made = []

    class CheckedOpenAI(openai.OpenAI):
        def __init__(self, **kwargs):
            super().__init__(
                http_client=httpx.Client(timeout=10.0, event_hooks=checking_hooks(contract)),
                max_retries=0,
                **kwargs,
            )
            made.append(self)

    yield CheckedOpenAI
    for client in made:  # the examples never close theirs
        client.close()


# --- seed 000: OpenAI compatibility page ------------------------------------------------------


def test_000_configuration_and_chat_completions(server, OpenAI, capsys):  # noqa: N803
    client = OpenAI(
        api_key="your-paradigm-api-key",
        base_url=server.v2,
    )
    response = client.chat.completions.create(
        model=CHAT_MODEL,
        messages=[
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Hello!"},
        ],
        temperature=0.7,
        max_tokens=150,
    )
    print(response.choices[0].message.content)
    assert capsys.readouterr().out.strip() == response.choices[0].message.content.strip() != ""


def test_000_streaming_response(server, OpenAI, capsys):  # noqa: N803
    client = OpenAI(api_key="your-paradigm-api-key", base_url=server.v2)
    stream = client.chat.completions.create(
        model=CHAT_MODEL, messages=[{"role": "user", "content": "Tell me a story"}], stream=True
    )
    for chunk in stream:
        if chunk.choices[0].delta.content:
            print(chunk.choices[0].delta.content, end="")
    printed = capsys.readouterr().out
    plain = client.chat.completions.create(
        model=CHAT_MODEL, messages=[{"role": "user", "content": "Tell me a story"}]
    )
    assert printed == plain.choices[0].message.content


def test_000_completions(server, OpenAI, capsys):  # noqa: N803
    client = OpenAI(api_key="your-paradigm-api-key", base_url=server.v2)
    response = client.completions.create(
        model=CHAT_MODEL, prompt="Once upon a time", max_tokens=100, temperature=0.7
    )
    print(response.choices[0].text)
    assert capsys.readouterr().out.strip()


def test_000_completions_streaming(server, OpenAI, capsys):  # noqa: N803
    client = OpenAI(api_key="your-paradigm-api-key", base_url=server.v2)
    stream = client.completions.create(model=CHAT_MODEL, prompt="Write a poem about", stream=True)
    for chunk in stream:
        if chunk.choices[0].text:
            print(chunk.choices[0].text, end="")
    assert capsys.readouterr().out.startswith(" ")


def test_000_embeddings(server, OpenAI, capsys):  # noqa: N803
    client = OpenAI(api_key="your-paradigm-api-key", base_url=server.v2)
    response = client.embeddings.create(model=EMBEDDING_MODEL, input="Text to embed")
    embedding = response.data[0].embedding
    print(embedding)
    printed = capsys.readouterr().out
    assert printed.startswith("[") and printed.count(",") == 1023


def test_000_list_models(server, OpenAI, capsys):  # noqa: N803
    client = OpenAI(api_key="your-paradigm-api-key", base_url=server.v2)
    # List all models
    models = client.models.list()
    for model in models.data:
        print(f"{model.name}: {model.technical_name=} / {model.model_type}")
    assert capsys.readouterr().out.splitlines() == [
        "Alfred 4.2: model.technical_name='alfred-4.2' / Large Language Model",
        "Alfred 4: model.technical_name='alfred-4' / Large Language Model",
        "Alfred 40B (11/23): model.technical_name='alfred-40b-1123' / Large Language Model",
        "Alfred SV5: model.technical_name='alfred-sv5' / Large Language Model",
        "Alfred FT5: model.technical_name='alfred-ft5' / Vision Language Model",
        "Multilingual E5 Large: model.technical_name='multilingual-e5-large' / Embedding Model",
    ]


@pytest.mark.parametrize(
    "model, error",
    [
        pytest.param(CHAT_MODEL, None, id="no-error"),
        pytest.param(
            "your-model-name",
            "Error: Error code: 404 - The model `your-model-name` does not exist.",
            id="unknown-model",
        ),
    ],
)
def test_000_error_handling(server, OpenAI, capsys, model, error):  # noqa: N803
    from openai import OpenAIError

    client = OpenAI(api_key="your-paradigm-api-key", base_url=server.v2)
    try:
        response = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "Hello"}]
        )
    except OpenAIError as e:
        print(f"Error: {e}")
    else:
        assert response.choices[0].message.content
    assert capsys.readouterr().out.strip() == (error or "")


def test_000_migration_guide_client(server, OpenAI):  # noqa: N803
    # After (LightOn API)
    client = OpenAI(api_key="your-paradigm-api-key", base_url=server.v2)
    assert client.models.list().data


# --- seed 001: chat API quick guide -----------------------------------------------------------


def test_001_follow_up_conversation(server, OpenAI, capsys):  # noqa: N803
    OpenAICompatibleClient = OpenAI  # noqa: N806  (from openai import OpenAI as OpenAICompatibleClient)
    api_key = "my-paradigm-key"
    base_url = server.v2
    client = OpenAICompatibleClient(api_key=api_key, base_url=base_url)
    messages = [
        {"role": "system", "content": "You are a helpful AI assistant answering to user's question"},
        {"role": "user", "content": "Hello, my name is Tom, how are you?"},
        {"role": "assistant", "content": "I'm Tom, I'm here to help. What can I do for you?"},
        {"role": "user", "content": "What is my name?"},
    ]
    response = client.chat.completions.create(
        model="alfred-4", messages=messages, temperature=0.7, max_tokens=150, stream=False
    )
    assistant_reply = response.choices[0].message.content
    print(assistant_reply)
    assert capsys.readouterr().out == assistant_reply + "\n"

    response_with_streaming = client.chat.completions.create(
        model="alfred-4", messages=messages, temperature=0.7, max_tokens=150, stream=True
    )
    for chunk in response_with_streaming:
        try:
            print(chunk.choices[0].delta.content)
        except:  # noqa: E722  (as the guide writes it)
            print("end of generation")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "" and "".join(lines[1:]) == assistant_reply  # the role chunk's empty content first
    assert "end of generation" not in lines


def test_001_stop_sequences_from_the_guide(server, OpenAI):  # noqa: N803
    client = OpenAI(api_key="my-paradigm-key", base_url=server.v2)
    response = client.chat.completions.create(
        model="alfred-4",
        messages=[{"role": "user", "content": "Hi"}],
        stop=["\n\n", "User:"],
        top_p=0.9,
        frequency_penalty=0.5,
        presence_penalty=0.5,
    )
    assert "\n\n" not in response.choices[0].message.content


# --- seeds 002 and 003: the OpenAPI operations embedded in the reference pages -----------------


def _embedded(seed_prefix: str) -> tuple[str, str, dict]:
    (seed,) = SEEDS.glob(f"{seed_prefix}_*.txt")
    match = re.search(
        r"````yaml /api-reference/\S+ (\w+) (\S+)\n(.*?)````", seed.read_text(encoding="utf-8"), re.S
    )
    return match[1].upper(), match[2], yaml.safe_load(match[3])


def _documented_examples(seed_prefix: str):
    method, path, document = _embedded(seed_prefix)
    examples = document["paths"][path][method.lower()]["requestBody"]["content"]["application/json"][
        "examples"
    ]
    return [
        pytest.param(method, path, document, example["value"], id=f"{seed_prefix}-{name}")
        for name, example in examples.items()
    ]


@pytest.mark.parametrize(
    "method, path, document, body", _documented_examples("002") + _documented_examples("003")
)
def test_002_003_documented_request_examples(api, method, path, document, body):
    response = api.request(method, path, json=body)
    assert response.status_code == 200
    ours = response.json() if not body.get("stream") else None
    schema_name = document["paths"][path][method.lower()]["responses"]["200"]["content"]["application/json"][
        "schema"
    ]["$ref"]
    docs_schema = _Resolver(document, Path(path)).to_json_schema({"$ref": schema_name})
    if ours is not None:
        assert not list(Draft7Validator(docs_schema).iter_errors(ours))
    else:
        events = parse_sse(response.content)
        assert events[-1] == "[DONE]" and len(events) > 2


# --- seed 004: the curl example of the completions reference ------------------------------------


def test_004_curl_example(server, contract):
    result = subprocess.run(
        [
            "curl",
            "--silent",
            "--show-error",
            "--request",
            "POST",
            "--url",
            f"{server.base_url}/api/v2/completions",
            "--header",
            f"Authorization: Bearer {KEY}",
            "--header",
            "Content-Type: application/json",
            "--data",
            '{\n"model": "alfred-40b-1123"\n}',
            "--write-out",
            "\n%{http_code}",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    body, _, status = result.stdout.rpartition("\n")
    contract.check_body("POST", "/api/v2/completions", int(status), json.loads(body))
    assert status == "200" and json.loads(body)["model"] == "alfred-40b-1123"
