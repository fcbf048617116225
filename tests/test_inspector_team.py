"""The inspector's spaces and recordings views through real HTTP: GET /_emulator/spaces (every space,
or a key's alone; never a key), the journal stream, files and threads of one space, the features
the page is told, GET /_emulator/recordings of a recording proxy and of a replay, and the source of
each answer in the journal."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from emulator.identity.directory import implicit_user
from tests.conftest import TIMEOUT, backend_overrides
from tests.test_inspector import _events
from tests.test_users import users_file
from tests.upstream_support import AUTH, CHAT

CHAT_PATH = "/api/v2/chat/completions"
BACKENDS = pytest.mark.parametrize("kind", ["memory", "redis"])
ADMIN = {"X-Emulator-Admin-Token": "s3cret"}


def _ask(http: httpx.Client, key: str, text: str = "Hello") -> None:
    answered = http.post(CHAT_PATH, headers={"Authorization": f"Bearer {key}"},
                         json={"model": "alfred-4.2", "messages": [{"role": "user", "content": text}],
                               "max_tokens": 4})
    assert answered.status_code == 200, answered.text


@BACKENDS
def test_every_space_is_listed_with_its_users_and_requests_and_never_a_key(kind: str, make_server) -> None:
    running = make_server(**backend_overrides(kind))
    with httpx.Client(base_url=running.base_url, timeout=TIMEOUT) as http:
        for key in ("suite-a-key", "suite-a-key", "suite-b-key"):
            _ask(http, key)
        listed = http.get("/_emulator/spaces")
        assert listed.status_code == 200
        assert "suite-a-key" not in listed.text and "suite-b-key" not in listed.text
        body = listed.json()
        a, b = implicit_user("suite-a-key"), implicit_user("suite-b-key")
        spaces = {s["space"]: s for s in body["spaces"]}
        assert set(spaces) == {a.space, b.space} and body["declared"] is False
        assert spaces[a.space]["requests"] == 2 and spaces[b.space]["requests"] == 1
        assert spaces[a.space]["users"][0]["id"] == a.id and spaces[a.space]["company"]["id"] == a.company.id
        assert body["spaces"][0]["space"] == b.space  # the most recently active first

        # A space's reset: its requests stay in the journal, its count since the reset starts again.
        assert http.post("/_emulator/reset", headers={"X-Emulator-Api-Key": "suite-a-key"}).status_code == 200
        _ask(http, "suite-a-key")
        mine = http.get("/_emulator/spaces", headers={"X-Emulator-Api-Key": "suite-a-key"}).json()
        assert [s["space"] for s in mine["spaces"]] == [a.space] and mine["space"] == a.space
        assert mine["spaces"][0]["requests"] == 3 and mine["spaces"][0]["since_reset"] == 1


def test_with_users_and_an_admin_token_the_declared_spaces_show_and_a_key_sees_its_own(
        tmp_path: Path, make_server) -> None:
    running = make_server(users=users_file(tmp_path), admin_token="s3cret")
    with httpx.Client(base_url=running.base_url, timeout=TIMEOUT) as http:
        info = http.get("/_emulator/info").json()
        assert "spaces" in info["features"] and info["users"] is True
        _ask(http, "alice-key")
        _ask(http, "carol-key")
        assert http.get("/_emulator/spaces").status_code == 401
        assert http.get("/_emulator/spaces", headers={"X-Emulator-Admin-Token": "wrong"}).status_code == 401
        every = http.get("/_emulator/spaces", headers=ADMIN).json()
        shown = [(s["company"]["name"], s["requests"]) for s in every["spaces"]]
        assert shown == [("Acme", 1), ("Globex", 1)]
        acme = every["spaces"][0]
        assert [(u["name"], u["role"], u["requests"]) for u in acme["users"]] == [
            ("Alice", "admin", 1), ("Bob", "member", 0)]
        assert "alice-key" not in json.dumps(every)
        mine = http.get("/_emulator/spaces", headers={"X-Emulator-Api-Key": "bob-key"}).json()
        assert [s["company"]["name"] for s in mine["spaces"]] == ["Acme"]
        assert http.get("/_emulator/spaces", headers={"X-Emulator-Api-Key": "stranger"}).status_code == 401


@BACKENDS
def test_a_keys_stream_files_and_threads_are_its_spaces_alone(kind: str, make_server) -> None:
    running = make_server(admin_token="s3cret", **backend_overrides(kind))
    mine, theirs = implicit_user("mine-key"), implicit_user("theirs-key")
    with httpx.Client(base_url=running.base_url, timeout=TIMEOUT) as http:
        for key in ("mine-key", "theirs-key"):
            auth = {"Authorization": f"Bearer {key}"}
            uploaded = http.post("/api/v2/files", headers=auth, files={"file": (f"{key}.txt", b"text")},
                                 data={"purpose": "assistants"})
            assert uploaded.status_code in (200, 201), uploaded.text
            assert http.post("/api/v3/threads/turns", headers=auth, json={"query": "Hi"}).status_code < 300
        space = {"X-Emulator-Api-Key": "mine-key"}
        files = http.get("/_emulator/files", headers=space).json()["files"]
        assert [f["filename"] for f in files] == ["mine-key.txt"]
        assert len(http.get("/_emulator/files", headers=ADMIN).json()["files"]) == 2
        theirs_id = [f["id"] for f in http.get("/_emulator/files", headers=ADMIN).json()["files"]
                     if f["filename"] == "theirs-key.txt"][0]
        assert http.get(f"/_emulator/files/{theirs_id}", headers=space).status_code == 404
        threads = http.get("/_emulator/threads", headers=space).json()["threads"]
        assert len(threads) == 1
        assert len(http.get("/_emulator/threads", headers=ADMIN).json()["threads"]) == 2

        client, response, events = _events(running.base_url, 0, space)
        try:
            _ask(http, "theirs-key", "not for me")
            _ask(http, "mine-key", "for me")
            seen = []
            for event, data in events:
                if event == "entry":
                    seen.append(json.loads(data))
                    if seen[-1]["body"].get("messages", [{}])[0].get("content") == "for me":
                        break
        finally:
            response.close()
            client.close()
        assert {entry["company"] for entry in seen} == {mine.company.id}
        assert theirs.company.id != mine.company.id
        refused = httpx.get(running.base_url + "/_emulator/journal/events", timeout=TIMEOUT)
        assert refused.status_code == 401


def test_a_recording_proxy_lists_its_exchanges_and_marks_the_upstreams_answers(make_server, tmp_path) -> None:
    upstream = make_server()
    folder = tmp_path / "rec"
    proxy = make_server(upstream=upstream.base_url, record=folder)
    with httpx.Client(base_url=proxy.base_url, timeout=TIMEOUT) as http:
        assert http.get("/_emulator/info").json()["features"] == ["recordings"]
        assert http.get("/_emulator/recordings").json()["recordings"] == []
        http.post(CHAT_PATH, json=CHAT, headers=AUTH).raise_for_status()
        http.post(CHAT_PATH, json=CHAT, headers=AUTH).raise_for_status()
        http.post(CHAT_PATH, json={**CHAT, "stream": True}, headers=AUTH).raise_for_status()
        assert http.post("/_emulator/fixtures", json={
            "name": "local", "match": {"last_user_message": {"contains": "scripted"}},
            "response": {"content": "Scripted."}}).status_code == 201
        scripted = {**CHAT, "messages": [{"role": "user", "content": "scripted here"}]}
        http.post(CHAT_PATH, json=scripted, headers=AUTH).raise_for_status()
        shown = http.get("/_emulator/recordings").json()
        entries = http.get("/_emulator/journal").json()["requests"]
    assert shown["recording"] is True and shown["folder"] == str(folder)
    assert shown["upstream"] == upstream.base_url  # scheme, host and port only
    rows = shown["recordings"]
    assert [(Path(r["file"]).name, r["method"], r["path"]) for r in rows] == [
        ("0001-post-api-v2-chat-completions.yaml", "POST", CHAT_PATH),
        ("0002-post-api-v2-chat-completions.yaml", "POST", CHAT_PATH)]
    answers = [(a["status"], a["stream"], a["seq"]) for a in rows[0]["responses"]]
    assert answers == [(200, False, 1), (200, False, 2)]
    assert rows[1]["responses"][0]["stream"] is True and rows[1]["responses"][0]["events"] > 2
    assert rows[0]["origin"] == "recording folder"
    assert [(e["source"], e["fixture"]) for e in entries] == [
        (None, "local"), ("upstream", None), ("upstream", None), ("upstream", None)]


def test_a_replay_lists_its_recordings_with_their_uses_and_marks_their_answers(make_server, tmp_path) -> None:
    upstream = make_server()
    proxy = make_server(upstream=upstream.base_url, record=tmp_path)
    httpx.post(proxy.base_url + CHAT_PATH, json=CHAT, headers=AUTH, timeout=TIMEOUT).raise_for_status()
    replay = make_server(fixtures_dir=tmp_path)
    with httpx.Client(base_url=replay.base_url, timeout=TIMEOUT) as http:
        assert http.get("/_emulator/info").json()["features"] == ["recordings"]
        http.post(CHAT_PATH, json=CHAT, headers=AUTH).raise_for_status()
        shown = http.get("/_emulator/recordings").json()
        entry = http.get("/_emulator/journal?limit=1").json()["requests"][0]
    (row,) = shown["recordings"]
    assert row["origin"] == "fixtures" and isinstance(row["uses"], int)
    assert row["name"] == f"0001 POST {CHAT_PATH}"
    assert shown["recording"] is False and shown["folder"] is None
    assert entry["source"] == "recording" and entry["fixture"] == row["name"]


def test_a_broken_recording_file_is_named_not_a_500(make_server, tmp_path) -> None:
    upstream = make_server()
    proxy = make_server(upstream=upstream.base_url, record=tmp_path)
    (tmp_path / "0009-broken.yaml").write_text("fixtures: [\n", encoding="utf-8")
    shown = httpx.get(proxy.base_url + "/_emulator/recordings", timeout=TIMEOUT)
    assert shown.status_code == 200
    assert shown.json()["recordings"] == [] and "0009-broken.yaml" in shown.json()["problems"][0]
