"""serve --upstream: requests no fixture matches are answered by the upstream, relayed as they arrive."""

from __future__ import annotations

import subprocess
import sys

import httpx
import openai
import pytest

from tests.cli_process import ROOT
from tests.upstream_support import AUTH, CHAT, KEY, journal, wait_for


@pytest.fixture
def upstream(make_server):
    return make_server(seed=7, itl_ms=2)


def test_a_proxied_answer_is_the_upstreams_bytes_status_and_headers(make_server, upstream):
    proxy = make_server(upstream=upstream.base_url)
    direct = httpx.post(upstream.base_url + "/api/v2/chat/completions", json=CHAT, headers=AUTH)
    proxied = httpx.post(proxy.base_url + "/api/v2/chat/completions", json=CHAT, headers=AUTH)
    assert proxied.status_code == direct.status_code == 200
    assert proxied.content == direct.content  # the upstream's seed, not the proxy's
    assert proxied.headers["content-type"] == "application/json"
    entry = journal(proxy, path="/api/v2/chat/completions")[0]
    assert entry["source"] == "upstream" and entry["outcome"] == "complete"
    # The client's own key reached the upstream.
    assert journal(upstream)[0]["headers"]["authorization"] == "[redacted]"


def test_a_stream_is_relayed_chunk_by_chunk_through_the_openai_sdk(make_server, upstream):
    proxy = make_server(upstream=upstream.base_url)
    with openai.OpenAI(api_key=KEY, base_url=proxy.v2, max_retries=0, timeout=10) as client:
        stream = client.chat.completions.create(stream=True, **CHAT)
        pieces = [chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices]
    with openai.OpenAI(api_key=KEY, base_url=upstream.v2, max_retries=0, timeout=10) as client:
        direct = client.chat.completions.create(**CHAT).choices[0].message.content
    assert "".join(pieces) == direct and len(pieces) > 3


def test_fixtures_win_over_the_upstream(make_server, upstream):
    proxy = make_server(upstream=upstream.base_url)
    httpx.post(
        proxy.base_url + "/_emulator/fixtures",
        json={"match": {"last_user_message": "override me"}, "response": {"content": "local"}},
    ).raise_for_status()
    body = {**CHAT, "messages": [{"role": "user", "content": "override me"}]}
    answer = httpx.post(proxy.base_url + "/api/v2/chat/completions", json=body, headers=AUTH).json()
    assert answer["choices"][0]["message"]["content"] == "local"
    assert journal(upstream, path="/api/v2/chat") == []  # never forwarded


def test_upstream_errors_and_rate_limit_headers_are_relayed_as_they_are(make_server, upstream):
    proxy = make_server(upstream=upstream.base_url)
    forced = {**AUTH, "X-Emulator-Status": "429", "X-Emulator-Retry-After": "2"}
    direct = httpx.post(upstream.base_url + "/api/v2/chat/completions", json=CHAT, headers=forced)
    # Control headers act on the emulator they reach: sent to the proxy, the proxy answers them itself.
    httpx.post(
        upstream.base_url + "/_emulator/fixtures",
        json={
            "match": {"operation": "chat"},
            "response": {
                "error": {"status": 429, "headers": {"Retry-After": "2", "X-RateLimit-Remaining": "0"}}
            },
        },
    ).raise_for_status()
    proxied = httpx.post(proxy.base_url + "/api/v2/chat/completions", json=CHAT, headers=AUTH)
    assert proxied.status_code == 429 == direct.status_code
    assert proxied.headers["retry-after"] == "2" and proxied.headers["x-ratelimit-remaining"] == "0"
    assert (
        proxied.json()
        == httpx.post(upstream.base_url + "/api/v2/chat/completions", json=CHAT, headers=AUTH).json()
    )


def test_upstream_key_replaces_the_clients_key(make_server):
    upstream = make_server(api_keys=("the-real-key",))
    proxy = make_server(upstream=upstream.base_url, upstream_key="the-real-key")
    answer = httpx.get(proxy.base_url + "/api/v2/models", headers={"Authorization": "Bearer whatever"})
    assert answer.status_code == 200 and answer.json()["object"] == "list"
    refused = httpx.get(
        make_server(upstream=upstream.base_url).base_url + "/api/v2/models",
        headers={"Authorization": "Bearer whatever"},
    )
    assert refused.status_code == 401  # the upstream's own refusal, relayed


def test_uploads_and_downloads_pass_through(make_server, upstream):
    proxy = make_server(upstream=upstream.base_url)
    content = b"Paris is the capital of France.\n" * 20
    made = httpx.post(
        proxy.base_url + "/api/v2/files",
        headers=AUTH,
        files={"file": ("capital.txt", content, "text/plain")},
        data={"collection_type": "private"},
    )
    assert made.status_code == 200, made.text
    file_id = made.json()["id"]
    listed = httpx.get(upstream.base_url + f"/api/v2/files/{file_id}", headers=AUTH).json()
    assert listed["filename"] == "capital.txt" and listed["bytes"] == len(content)


def test_an_unreachable_upstream_is_a_502_naming_it(make_server):
    proxy = make_server(upstream="http://127.0.0.1:9")
    answer = httpx.post(proxy.base_url + "/api/v2/chat/completions", json=CHAT, headers=AUTH)
    assert answer.status_code == 502
    assert "http://127.0.0.1:9" in answer.json()["detail"] and "--upstream" in answer.json()["detail"]


def test_a_slow_upstream_is_a_504_naming_the_timeout_flag(make_server, upstream):
    httpx.post(
        upstream.base_url + "/_emulator/fixtures",
        json={"match": {"operation": "models"}, "response": {"delay_ms": 1500}},
    ).raise_for_status()
    proxy = make_server(upstream=upstream.base_url, upstream_timeout=0.2)
    answer = httpx.get(proxy.base_url + "/api/v2/models", headers=AUTH)
    assert answer.status_code == 504 and "--upstream-timeout" in answer.json()["detail"]


def test_an_upstream_that_cuts_a_stream_cuts_the_clients(make_server, upstream):
    httpx.post(
        upstream.base_url + "/_emulator/fixtures",
        json={"match": {"operation": "chat"}, "response": {"stream": {"drop_after": 3}}},
    ).raise_for_status()
    proxy = make_server(upstream=upstream.base_url)
    with httpx.Client(timeout=10) as client, pytest.raises(httpx.RemoteProtocolError):
        with client.stream(
            "POST", proxy.base_url + "/api/v2/chat/completions", json={**CHAT, "stream": True}, headers=AUTH
        ) as response:
            for _ in response.iter_raw():
                pass
    entry = wait_for(lambda: journal(proxy, path="/api/v2/chat"))[0]
    assert entry["outcome"] == "dropped" and entry["source"] == "upstream"  # as the upstream dropped it


def test_a_client_gone_mid_stream_closes_the_upstream_request(make_server):
    upstream = make_server(itl_ms=50)
    proxy = make_server(upstream=upstream.base_url)
    with httpx.Client(timeout=10) as client:
        with client.stream(
            "POST",
            proxy.base_url + "/api/v2/chat/completions",
            json={**CHAT, "max_tokens": 400, "stream": True},
            headers=AUTH,
        ) as response:
            next(response.iter_raw())  # the first event, then the client goes away (20 s of stream left)
    dropped = wait_for(
        lambda: [e for e in journal(upstream, path="/api/v2/chat") if e["outcome"] == "dropped"]
    )
    assert dropped, journal(upstream)


@pytest.mark.parametrize("url", ["ftp://example.com", "example.com", "http://"])
def test_an_upstream_that_is_not_an_http_url_stops_the_cli(url):
    done = subprocess.run(
        [sys.executable, "-m", "emulator", "serve", "--port", "0", "--upstream", url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--upstream must be an http(s) URL" in done.stderr


def test_a_record_folder_that_cannot_be_written_stops_the_cli(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "emulator",
            "serve",
            "--port",
            "0",
            "--upstream",
            "http://127.0.0.1:9",
            "--record",
            str(blocker / "recordings"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--record" in done.stderr and "cannot write recordings" in done.stderr
