"""Authorization: Bearer <key> on every /api/ operation; any non-empty key unless keys are configured."""

# ruff: noqa: F811  (pytest fixtures imported from contract are redefined as arguments)

from __future__ import annotations

import httpx
import openai
import pytest
from contract import TIMEOUT, Contract, api, contract  # noqa: F401  (fixtures)

from emulator.cli import build_parser, settings_from_args
from emulator.config import from_env

MODELS = "/api/v2/models"
NO_CREDENTIALS = {"detail": "Authentication credentials were not provided."}


def checked(contract: Contract, response: httpx.Response) -> httpx.Response:
    contract.check(response)
    return response


@pytest.mark.parametrize(
    "headers, expected",
    [
        pytest.param({}, NO_CREDENTIALS, id="no-header"),
        pytest.param({"Authorization": "Token abc"}, NO_CREDENTIALS, id="other-scheme"),
        pytest.param(
            {"Authorization": "Bearer"},
            {"detail": "Invalid token header. No credentials provided."},
            id="bearer-without-key",
        ),
        pytest.param(
            {"Authorization": "Bearer two words"},
            {"detail": "Invalid token header. Token string should not contain spaces."},
            id="key-with-space",
        ),
    ],
)
def test_missing_or_malformed_bearer_is_401(server, contract, headers, expected):
    response = checked(contract, httpx.get(server.base_url + MODELS, headers=headers, timeout=TIMEOUT))
    assert response.status_code == 401
    assert response.json() == expected
    assert response.headers["www-authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize(
    "path, body",
    [
        pytest.param("/api/v2/chat/completions", {"model": "alfred-4", "messages": []}, id="chat-v2"),
        pytest.param("/api/v3/chat/completions", {"model": "alfred-4", "messages": []}, id="chat-v3"),
        pytest.param("/api/v2/completions", {"model": "alfred-4"}, id="completions"),
        pytest.param(
            "/api/v2/embeddings", {"model": "multilingual-e5-large", "input": "x"}, id="embeddings-v2"
        ),
        pytest.param(
            "/api/v3/embeddings", {"model": "multilingual-e5-large", "input": "x"}, id="embeddings-v3"
        ),
    ],
)
def test_every_operation_requires_the_key_before_reading_the_body(server, contract, path, body):
    """As DRF does: authentication first, so a broken body without a key is still a 401."""
    for content in (httpx.Request("POST", "/", json=body).content, b"{not json"):
        response = checked(
            contract,
            httpx.post(
                server.base_url + path,
                content=content,
                timeout=TIMEOUT,
                headers={"Content-Type": "application/json"},
            ),
        )
        assert (response.status_code, response.json()) == (401, NO_CREDENTIALS)


@pytest.mark.parametrize("key", ["sk-anything", "paradigm-key-123", "x"])
def test_any_non_empty_key_is_accepted_by_default(server, contract, key):
    response = checked(
        contract,
        httpx.get(server.base_url + MODELS, headers={"Authorization": f"Bearer {key}"}, timeout=TIMEOUT),
    )
    assert response.status_code == 200


def test_scheme_is_case_insensitive(api):
    assert api.get(MODELS, headers={"Authorization": "bearer key"}).status_code == 200


def test_configured_keys_restrict_access(make_server):
    running = make_server(api_keys=("key-one", "key-two"))
    contract = Contract(running.emulator)
    statuses = {}
    for key in ("key-one", "key-two", "key-three"):
        response = httpx.get(
            running.base_url + MODELS, headers={"Authorization": f"Bearer {key}"}, timeout=TIMEOUT
        )
        contract.check(response)
        statuses[key] = (response.status_code, response.json().get("detail"))
    assert statuses == {"key-one": (200, None), "key-two": (200, None), "key-three": (401, "Invalid token.")}


def test_sdk_with_a_wrong_key_raises_authentication_error(make_server):
    running = make_server(api_keys=("right",))
    with openai.OpenAI(api_key="wrong", base_url=running.v2, max_retries=0, timeout=10) as client:
        with pytest.raises(openai.AuthenticationError) as raised:
            client.models.list()
    assert raised.value.status_code == 401
    assert raised.value.body == {"detail": "Invalid token."}


def test_api_keys_env_var_is_comma_separated():
    settings = from_env({"PARADIGM_EMULATOR_API_KEYS": " one, two ,,three "})
    assert settings.api_keys == ("one", "two", "three")


def test_api_key_flag_is_repeatable_and_wins_over_the_env_var(monkeypatch):
    monkeypatch.setenv("PARADIGM_EMULATOR_API_KEYS", "from-env")
    args = build_parser().parse_args(["serve", "--api-key", "a", "--api-key", "b"])
    assert settings_from_args(args).api_keys == ("a", "b")
    assert settings_from_args(build_parser().parse_args(["serve"])).api_keys == ("from-env",)


def test_unknown_path_needs_no_key(server, contract):
    response = checked(contract, httpx.get(server.base_url + "/api/v2/nowhere", timeout=TIMEOUT))
    assert (response.status_code, response.json()) == (404, {"detail": "Not found."})
