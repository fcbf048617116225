"""The v2 answers the docs give two ways or more, through real HTTP: the default shape (today's),
the other documented shapes behind --query-shape and --tokenize-shape, each valid for the spec."""

from __future__ import annotations

import httpx
import pytest
from conftest import KEY, TIMEOUT
from contract import Contract

from emulator.cli import main
from emulator.config import Settings, from_env

MODEL = "alfred-4.2"
TEXT = b"Employees get 25 days of paid leave a year. Meals are paid by the company."


def client(server) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=TIMEOUT)


def checked(server, response: httpx.Response) -> object:
    assert response.status_code == 200, response.text
    Contract(server.emulator).check(response)
    return response.json()




@pytest.mark.parametrize(("shape", "single_is_list"), [(None, False), ("object", False), ("array", True)])
def test_a_single_query_answers_the_chosen_shape_and_a_list_always_a_list(make_server, shape, single_is_list):
    server = make_server(**({"query_shape": shape} if shape else {}))
    with client(server) as http:
        assert http.post("/api/v2/files", files={"file": ("leave.txt", TEXT)}).status_code == 200
        single = checked(server, http.post("/api/v2/query", json={"query": "paid leave", "n": 1}))
        listed = checked(server, http.post("/api/v2/query", json={"query": ["paid leave", "meals"], "n": 1}))
    result = single[0] if single_is_list else single
    assert isinstance(single, list) == single_is_list
    assert (result["query"], len(result["chunks"])) == ("paid leave", 1)
    assert [r["query"] for r in listed] == ["paid leave", "meals"]
    assert listed[0] == result  # the same result object, whatever wraps it


def test_the_default_tokenize_answer_is_the_current_spec_shape(make_server):
    server = make_server()
    with client(server) as http:
        body = checked(server, http.post("/api/v2/tokenize", json={"model": MODEL, "prompt": "This is"}))
    assert list(body) == ["id", "model", "request_model", "model_used", "tokenizer_type", "total_tokens",
                          "tokens"]
    assert body["total_tokens"] == len(body["tokens"]) > 0
    assert all(isinstance(t, dict) and len(t) == 1 for t in body["tokens"])


def test_the_guide_and_legacy_tokenize_shapes_carry_the_same_tokens(make_server):
    bodies = {}
    for shape in ("current", "guide", "legacy"):
        server = make_server(tokenize_shape=shape)
        with client(server) as http:
            bodies[shape] = checked(server, http.post("/api/v2/tokenize",
                                                      json={"model": MODEL, "prompt": "This is a test"}))
    current, guide, legacy = bodies["current"], bodies["guide"], bodies["legacy"]
    assert set(guide) == {"id", "model", "tokens", "text", "n_tokens"}
    assert (guide["tokens"], guide["n_tokens"], guide["text"], guide["id"]) == \
        (current["tokens"], current["total_tokens"], "This is a test", current["id"])
    assert set(legacy) == {"object", "model", "tokens", "total_tokens", "prompt_tokens"}
    assert legacy["object"] == "tokenization"
    assert legacy["tokens"] == [next(iter(t.values())) for t in current["tokens"]]
    assert legacy["total_tokens"] == legacy["prompt_tokens"] == current["total_tokens"]


def test_a_shape_outside_the_documented_ones_is_refused_naming_the_flag(capsys):
    with pytest.raises(ValueError, match=r"--query-shape .* must be one of object, array, got 'dict'"):
        Settings(query_shape="dict")
    with pytest.raises(ValueError, match="PARADIGM_EMULATOR_TOKENIZE_SHAPE"):
        from_env({"PARADIGM_EMULATOR_TOKENIZE_SHAPE": "v1"})
    assert from_env({"PARADIGM_EMULATOR_QUERY_SHAPE": "array"}).query_shape == "array"
    assert main(["serve", "--tokenize-shape", "v1", "--port", "0"]) == 2
    assert "--tokenize-shape (or PARADIGM_EMULATOR_TOKENIZE_SHAPE) must be one of current, guide, legacy" \
        in capsys.readouterr().err
