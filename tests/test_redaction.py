"""Credentials are redacted by the shape of their name: headers, query parameters, JSON body fields."""

from __future__ import annotations

import httpx
import pytest

from emulator.redaction import secret_field, secret_name
from tests.cli_process import start_cli

QUERY = ["access_token", "apikey", "api-key", "password", "secret", "client_secret", "auth"]
HEADERS = ["X-Auth-Token", "X-Access-Token", "X-Goog-Api-Key", "Authentication", "X-Amz-Security-Token",
           "X-CSRF-Token", "OpenAI-Project"]


def test_each_credential_name_is_redacted_in_the_journal_and_in_no_log_line():
    process, root = start_cli("--log-level", "debug")
    try:
        values = {name: f"q-s3cret-{index}" for index, name in enumerate(QUERY)}
        headers = {name: f"h-s3cret-{index}" for index, name in enumerate(HEADERS)}
        body = {"model": "alfred-4.2", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3,
                "api_key": "b-s3cret-1", "metadata": {"access_token": "b-s3cret-2", "keywords": ["kept"]},
                "clientSecret": "b-s3cret-3"}
        with httpx.Client(base_url=root, timeout=10.0, headers={"Authorization": "Bearer k-s3cret"}) as http:
            assert http.get("/api/v2/models", params=values, headers=headers).status_code == 200
            http.post("/api/v2/chat/completions", params=values, headers=headers, json=body)
            raw = http.get("/_emulator/journal").text
            entries = http.get("/_emulator/journal").json()["requests"]
    finally:
        process.terminate()
        out, err = process.communicate(timeout=30)
    assert "s3cret" not in raw
    assert "s3cret" not in out + err, "a credential reached a log line"
    models, chat = entries[-1], entries[-2]
    assert all(models["query"][name] == "[redacted]" for name in QUERY)
    assert all(models["headers"][name.lower()] == "[redacted]" for name in HEADERS)
    assert chat["body"]["api_key"] == "[redacted]" and chat["body"]["clientSecret"] == "[redacted]"
    assert chat["body"]["metadata"] == {"access_token": "[redacted]", "keywords": ["kept"]}
    assert chat["body"]["max_tokens"] == 3 and chat["body"]["messages"][0]["content"] == "hi"


@pytest.mark.parametrize("name", ["api_key", "access_token", "apiKey", "APIKey", "password", "client-secret",
                                  "refresh_token", "x_signature", "auth", "credentials"])
def test_a_field_with_a_credential_word_goes(name):
    assert secret_field(name)


@pytest.mark.parametrize("name", ["max_tokens", "keywords", "monkey", "author", "tokens", "top_k",
                                  "keys_count", "content"])
def test_a_field_without_one_as_a_whole_word_stays(name):
    assert not secret_field(name)


def test_header_names_are_matched_by_containment():
    assert all(secret_name(name) for name in [*HEADERS, *QUERY, "Cookie", "Proxy-Authorization"])
    assert not any(secret_name(name) for name in ["content-type", "accept", "user-agent", "x-request-id"])


@pytest.mark.parametrize("raw, holds", [
    (b'{"model":"a","max_tokens":3,"messages":[{"role":"user","content":"hi"}]}', False),
    (b'{"keywords":["a"],"tokens":[1],"skip_special_tokens":true}', False),
    (b'{"api_key":"x"}', True), (b'{"passphrase":"x"}', True), (b'{"accessToken":"x"}', True),
    (b'{"stop_token_ids":[1]}', True),  # a whole word "token": redacted, so walked
    (b'{"max_tokens_secret":1}', True),
    (b'{"api_\\u006bey":"x"}', True),  # an escape could spell a credential word: walked
])
def test_the_raw_body_prefilter_never_lets_a_credential_field_through(raw, holds):
    from emulator.redaction import may_hold_secret
    assert may_hold_secret(raw) is holds
    assert may_hold_secret(raw) is holds  # the kept answer is the same


def test_an_escaped_credential_field_name_is_redacted_too():
    import json

    from emulator.redaction import redact_body
    body = json.loads(b'{"api_\\u006bey":"s3cret","max_tokens":2}')
    assert redact_body(body) == ({"api_key": "[redacted]", "max_tokens": 2}, True)
