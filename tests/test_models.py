"""GET /api/v2/models and the catalog behind it (fixtures/models.yaml, or --models FILE)."""

# ruff: noqa: F811  (pytest fixtures imported from contract are redefined as arguments)

from __future__ import annotations

import httpx
import pytest
from contract import KEY, TIMEOUT, Contract, api, contract, sdk  # noqa: F401  (fixtures)

from emulator.catalog import Catalog, CatalogError

SHIPPED = ["alfred-4.2", "alfred-4", "alfred-40b-1123", "alfred-sv5", "alfred-ft5", "multilingual-e5-large"]


def test_models_lists_the_shipped_catalog(api):
    body = api.get("/api/v2/models").json()
    assert body["object"] == "list"
    assert [m["technical_name"] for m in body["data"]] == SHIPPED


def test_each_model_has_paradigms_fields_and_openais(api) -> None:
    models = api.get("/api/v2/models").json()["data"]
    assert len(models) == len(SHIPPED)
    for model in models:
        assert model["id"] == model["technical_name"] and model["object"] == "model"
        assert isinstance(model["created"], int) and model["owned_by"]
        assert model["name"] and model["model_type"] and model["enabled"] is True
        assert "start_messages_template" in model and "prompt_template" in model


@pytest.mark.parametrize(
    "name, model_type, max_model_len",
    [
        pytest.param("alfred-4.2", "Large Language Model", 32768, id="alfred-4.2"),
        pytest.param("alfred-ft5", "Vision Language Model", 16384, id="alfred-ft5"),
        pytest.param("multilingual-e5-large", "Embedding Model", 512, id="e5"),
    ],
)
def test_model_types(api, name, model_type, max_model_len):
    model = next(m for m in api.get("/api/v2/models").json()["data"] if m["technical_name"] == name)
    assert (model["model_type"], model["max_model_len"]) == (model_type, max_model_len)


def test_sdk_list_exposes_paradigm_fields(sdk, capsys):
    models = sdk.models.list()
    for model in models.data:
        print(f"{model.name}: {model.technical_name=} / {model.model_type}")
    first = capsys.readouterr().out.splitlines()[0]
    assert first == "Alfred 4.2: model.technical_name='alfred-4.2' / Large Language Model"


def test_head_models_has_no_body(api):
    response = api.head("/api/v2/models")
    assert response.status_code == 200 and response.content == b""


def test_models_file_replaces_the_catalog(make_server, tmp_path):
    catalog = tmp_path / "models.yaml"
    catalog.write_text(
        "models:\n"
        "  - technical_name: tiny\n    name: Tiny\n    max_model_len: 64\n    enabled: true\n"
        "  - technical_name: vectors\n    kind: embedding\n    dimensions: 16\n"
        "    model_type: Embedding Model\n"
    )
    running = make_server(models=catalog)
    contract = Contract(running.emulator)
    with httpx.Client(
        base_url=running.base_url,
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=TIMEOUT,
        event_hooks={"response": [lambda r: (r.read(), contract.check(r))]},
    ) as client:
        listed = client.get("/api/v2/models").json()["data"]
        vector = client.post("/api/v2/embeddings", json={"model": "vectors", "input": "x"}).json()
        too_long = client.post(
            "/api/v2/chat/completions",
            json={"model": "tiny", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 60},
        )
        gone = client.post("/api/v2/chat/completions", json={"model": "alfred-4", "messages": []})
    assert [m["technical_name"] for m in listed] == ["tiny", "vectors"]
    assert listed[0]["model_type"] == "Large Language Model"
    assert len(vector["data"][0]["embedding"]) == 16
    assert (
        too_long.status_code == 400
        and "maximum context length is 64 tokens" in too_long.json()["error"]["message"]
    )
    assert gone.status_code == 404


def test_a_disabled_model_is_listed_but_cannot_be_used(make_server, tmp_path):
    catalog = tmp_path / "models.yaml"
    catalog.write_text("models:\n  - technical_name: 'off'\n    enabled: false\n  - technical_name: 'on'\n")
    running = make_server(models=catalog)
    contract = Contract(running.emulator)
    headers = {"Authorization": f"Bearer {KEY}"}
    response = httpx.post(
        running.base_url + "/api/v2/completions",
        json={"model": "off", "prompt": "x"},
        headers=headers,
        timeout=TIMEOUT,
    )
    contract.check(response)
    assert response.status_code == 404


@pytest.mark.parametrize(
    "text, message",
    [
        pytest.param("models: []\n", "expected a top-level 'models:' list", id="empty"),
        pytest.param("- technical_name: x\n", "expected a top-level 'models:' list", id="not-a-mapping"),
        pytest.param(
            "models:\n  - name: No technical name\n", "model #1: needs a technical_name", id="no-name"
        ),
        pytest.param(
            "models:\n  - technical_name: x\n    kind: vision\n",
            "kind must be one of chat, embedding, got 'vision'",
            id="bad-kind",
        ),
        pytest.param(
            "models:\n  - technical_name: x\n    kind: embedding\n",
            "an embedding model needs integer dimensions",
            id="no-dimensions",
        ),
        pytest.param(
            "models:\n  - technical_name: off\n",
            "technical_name must be a string, got False; quote it",
            id="yaml-boolean-name",
        ),
        pytest.param("models: [\n", "", id="broken-yaml"),
    ],
)
def test_a_broken_catalog_is_refused_with_its_place(tmp_path, text, message):
    path = tmp_path / "models.yaml"
    path.write_text(text)
    with pytest.raises(CatalogError) as raised:
        Catalog.load(path)
    assert str(raised.value).startswith(str(path)) and message in str(raised.value)
