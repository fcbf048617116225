"""The inspector's control-API views through real HTTP: the page and its assets, info, the journal's
response capture, the live journal stream (on both backends), the files and threads views, the
admin token and the Origin guard."""

from __future__ import annotations

import json
import time

import httpx
import openai

from tests.conftest import KEY, TIMEOUT

UNUSED = {"reasoning": None, "tool_call": None, "document": None, "workspace": None}  # a Part's other fields


def _chat(http: httpx.Client, text: str, **extra) -> httpx.Response:
    return http.post("/api/v2/chat/completions",
                     json={"model": "alfred-4.2", "messages": [{"role": "user", "content": text}], **extra})


def _newest(http: httpx.Client) -> dict:
    return http.get("/_emulator/journal?limit=1").json()["requests"][0]


def test_the_page_and_its_assets_are_served_with_a_strict_policy(http):
    page = http.get("/_emulator/ui")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy and "unsafe-inline" not in policy
    assert b"/_emulator/ui/inspector.js" in page.content and b"http" not in page.content.split(b"<body>")[1]
    script = http.get("/_emulator/ui/inspector.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert "innerHTML" not in script.text  # every value goes in as text
    assert http.get("/_emulator/ui/inspector.css").headers["content-type"].startswith("text/css")
    missing = http.get("/_emulator/ui/other.js")
    assert missing.status_code == 404 and "inspector.js" in missing.json()["detail"]


def test_info_tells_the_page_what_it_needs(http, server):
    info = http.get("/_emulator/info").json()
    assert info["state"] == "memory" and info["admin_token"] is False and info["features"] == []
    assert info["version"] and info["strict"] is False


def test_an_entry_keeps_the_json_response_and_a_streams_chunks_with_their_times(http, emulator):
    answer = _chat(http, "Hello")
    entry = _newest(http)
    assert entry["response"]["body"] == answer.json()

    asked = {"model": "alfred-4.2", "stream": True, "messages": [{"role": "user", "content": "Hi"}]}
    with http.stream("POST", "/api/v2/chat/completions", json=asked) as stream:
        sent = b"".join(stream.iter_raw())
    chunks = _newest(http)["response"]["chunks"]
    assert "".join(text for _, text in chunks).encode() == sent
    times = [ms for ms, _ in chunks]
    assert times == sorted(times) and times[0] >= 0
    assert chunks[-1][1].strip() == "data: [DONE]"


def test_a_strict_miss_keeps_the_nearest_fixtures_in_its_response(make_server):
    running = make_server(strict=True)
    running.emulator.scripts.add({"name": "weather", "match": {"last_user_message": {"contains": "weather"}},
                                  "response": {"content": "w"}})
    auth = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=running.base_url, headers=auth, timeout=TIMEOUT) as c:
        assert _chat(c, "Hello").status_code == 404
        entry = _newest(c)
    message = entry["response"]["body"]["error"]["message"]
    assert entry["status"] == 404 and "Closest fixtures" in message and "'weather'" in message


def _events(base_url: str, after: int, headers: dict | None = None):
    """The journal stream's events as (event, data) pairs, read from a live connection."""
    client = httpx.Client(base_url=base_url, timeout=httpx.Timeout(10.0), headers=headers or {})
    request = client.build_request("GET", f"/_emulator/journal/events?after={after}")
    response = client.send(request, stream=True)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")

    def read():
        event, data = None, ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data += line[6:]
            elif line == "" and event:
                yield event, data
                event, data = None, ""

    return client, response, read()


def test_the_journal_stream_sends_new_entries_and_a_clear(backend_http, on_backend):
    _chat(backend_http, "before")
    seen = _newest(backend_http)["seq"]
    client, response, events = _events(on_backend.base_url, seen)
    try:
        _chat(backend_http, "after one")
        _chat(backend_http, "after two")
        kind, data = next(events)
        first = json.loads(data)
        assert kind == "entry" and first["seq"] == seen + 1
        assert first["body"]["messages"][0]["content"] == "after one"
        kind, data = next(events)
        assert kind == "entry" and json.loads(data)["seq"] == seen + 2
        backend_http.delete("/_emulator/journal").raise_for_status()
        assert next(events) == ("cleared", "{}")
        _chat(backend_http, "after the clear")
        kind, data = next(events)
        assert kind == "entry" and json.loads(data)["body"]["messages"][0]["content"] == "after the clear"
    finally:
        response.close()
        client.close()


def test_the_journal_stream_from_the_start_sends_what_is_there(backend_http, on_backend):
    _chat(backend_http, "one")
    client, response, events = _events(on_backend.base_url, 0)
    try:
        kind, data = next(events)
        assert kind == "entry" and json.loads(data)["body"]["messages"][0]["content"] == "one"
    finally:
        response.close()
        client.close()


def test_the_files_view_shows_ingestion_and_the_text_by_page(backend_http, on_backend):
    with openai.OpenAI(api_key=KEY, base_url=on_backend.v2, timeout=10.0, max_retries=0) as sdk:
        created = sdk.files.create(file=("notes.txt", b"Alpha beta gamma."), purpose="assistants")
    deadline = time.monotonic() + 10
    while True:
        files = backend_http.get("/_emulator/files").json()["files"]
        if files and files[0]["status"] == "embedded" or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    shown = files[0]
    assert (shown["id"], shown["filename"], shown["status"], shown["progress"]) == (created.id, "notes.txt",
                                                                                     "embedded", 1.0)
    assert shown["size"] == 17 and shown["chunk_count"] >= 1 and "workspace_id" in shown
    one = backend_http.get(f"/_emulator/files/{created.id}").json()
    assert one["pages"] == ["Alpha beta gamma."]
    assert backend_http.get("/_emulator/files/999").status_code == 404
    assert backend_http.get("/_emulator/files/x").status_code == 400


def test_the_threads_view_shows_turns_with_their_parts_and_events(backend_http):
    turn = backend_http.post("/api/v3/threads/turns", json={"query": "What is Paradigm?"}).json()
    threads = backend_http.get("/_emulator/threads").json()["threads"]
    assert [t["id"] for t in threads] == [turn["thread"]]
    shown = threads[0]["turns"][0]
    assert shown["id"] == turn["id"] and shown["status"] == "completed" and shown["progress"] == 1.0
    assert shown["messages"][0]["parts"] == [{"type": "text", "text": "What is Paradigm?", **UNUSED}]
    assert shown["messages"][1]["parts"] == turn["messages"][1]["parts"]
    assert shown["events"] and all(isinstance(ms, float) and kind for ms, kind in shown["events"])


def test_the_views_need_the_admin_token_but_the_page_does_not(make_server):
    running = make_server(admin_token="s3cret")
    with httpx.Client(base_url=running.base_url, timeout=TIMEOUT) as c:
        assert c.get("/_emulator/ui").status_code == 200
        assert c.get("/_emulator/info").json()["admin_token"] is True
        for path in ("/_emulator/files", "/_emulator/threads", "/_emulator/journal/events"):
            assert c.get(path).status_code == 401, path
        assert c.get("/_emulator/files", headers={"X-Emulator-Admin-Token": "s3cret"}).status_code == 200


def test_the_views_refuse_other_origins(http):
    for path in ("/_emulator/files", "/_emulator/threads", "/_emulator/journal/events", "/_emulator/ui"):
        refused = http.get(path, headers={"Origin": "http://evil.example"})
        assert refused.status_code == 403, path
    assert http.get("/_emulator/files", headers={"Origin": str(http.base_url).rstrip("/")}).status_code == 200
