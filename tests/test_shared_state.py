"""Journal, runtime fixtures and use counters live on the state backend: the same behaviour through
real HTTP on both backends (memory, and a real Redis)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

import httpx
import pytest

from emulator.config import Settings
from emulator.server import EmulatorServer
from tests.conftest import KEY, TIMEOUT, backend_overrides


def chat(http, content="Hello", **extra):
    body = {"model": "alfred-4.2", "messages": [{"role": "user", "content": content}], **extra}
    return http.post("/api/v2/chat/completions", json=body)


def text_of(response) -> str:
    return response.json()["choices"][0]["message"]["content"]


def test_health_names_the_backend_and_the_worker(backend_http, backend_server):
    body = backend_http.get("/_emulator/health").json()
    assert body["state"] == ("redis" if backend_server.settings.redis_url else "memory")
    assert isinstance(body["pid"], int) and body["pid"] > 0


def test_a_posted_fixture_answers_and_times_counts_uses(backend_http):
    fixture = {"name": "once", "times": 1, "match": {"last_user_message": "Hi"},
               "response": {"content": "scripted"}}
    assert backend_http.post("/_emulator/fixtures", json=fixture).status_code == 201
    assert text_of(chat(backend_http, "Hi")) == "scripted"
    assert text_of(chat(backend_http, "Hi")) != "scripted"
    listed = backend_http.get("/_emulator/fixtures").json()["fixtures"]
    assert [(f["name"], f["uses"], f["times"]) for f in listed] == [("once", 1, 1)]


def test_a_sequence_advances_and_reset_restarts_it_and_removes_runtime_fixtures(backend_http):
    fixture = {"name": "seq", "responses": [{"content": "one"}, {"content": "two"}]}
    backend_http.post("/_emulator/fixtures", json=fixture)
    assert [text_of(chat(backend_http)) for _ in range(3)] == ["one", "two", "two"]
    assert backend_http.post("/_emulator/reset").json() == {"reset": True}
    assert backend_http.get("/_emulator/fixtures").json() == {"fixtures": []}
    assert backend_http.get("/_emulator/journal").json() == {"requests": []}
    backend_http.post("/_emulator/fixtures", json=fixture)
    assert text_of(chat(backend_http)) == "one"


def test_replacing_a_fixture_by_name_keeps_its_place_and_restarts_its_uses(backend_http):
    backend_http.post("/_emulator/fixtures", json=[{"name": "a", "response": {"content": "A"}},
                                                   {"name": "b", "response": {"content": "B"}}])
    chat(backend_http)
    backend_http.post("/_emulator/fixtures", json={"name": "a", "response": {"content": "A2"}})
    listed = backend_http.get("/_emulator/fixtures").json()["fixtures"]
    assert [(f["name"], f["uses"]) for f in listed] == [("a", 0), ("b", 0)]
    assert text_of(chat(backend_http)) == "A2"
    assert backend_http.delete("/_emulator/fixtures/a").json() == {"deleted": "a"}
    assert text_of(chat(backend_http)) == "B"
    assert backend_http.delete("/_emulator/fixtures").json() == {"deleted": 1}


def test_the_journal_pages_newest_first_and_reads_since_a_seq(backend_http):
    for number in range(5):
        chat(backend_http, f"message {number}")
    newest = backend_http.get("/_emulator/journal", params={"limit": 2}).json()["requests"]
    assert [e["body"]["messages"][0]["content"] for e in newest] == ["message 4", "message 3"]
    older = backend_http.get("/_emulator/journal", params={"limit": 2, "before": newest[-1]["seq"]}).json()
    assert [e["body"]["messages"][0]["content"] for e in older["requests"]] == ["message 2", "message 1"]
    since = backend_http.get("/_emulator/journal", params={"after": newest[-1]["seq"]}).json()["requests"]
    assert [e["body"]["messages"][0]["content"] for e in since] == ["message 4"]
    assert all(e["outcome"] == "complete" for e in newest)
    assert backend_http.get("/_emulator/journal", params={"after": "x"}).status_code == 400


def test_the_journal_redacts_every_credential(backend_http):
    secrets = {"Proxy-Authorization": "Basic c2VjcmV0", "Cookie": "session=s3cret", "X-Api-Key": "s3cret",
               "Api-Key": "s3cret", "OpenAI-Organization": "org-s3cret"}
    backend_http.get("/api/v2/models", headers=secrets, params={"api_key": "s3cret", "token": "s3cret"})
    raw = backend_http.get("/_emulator/journal").text
    assert "s3cret" not in raw and "c2VjcmV0" not in raw and "test-key" not in raw
    entry = json.loads(raw)["requests"][0]
    assert entry["headers"]["x-api-key"] == "[redacted]" and entry["headers"]["authorization"] == "[redacted]"


def test_a_big_body_is_cut_in_the_journal_with_a_marker(backend_http):
    big = "word" + "x" * 200_000  # 200 KB (few tokens), over the default 64 KB kept per entry
    assert chat(backend_http, big).status_code == 200
    entry = backend_http.get("/_emulator/journal").json()["requests"][0]
    kept = entry["body"]["messages"][0]["content"]
    assert kept.startswith("wordxxx") and "characters cut]" in kept and len(kept) < 70_000
    assert entry["body"]["model"] == "alfred-4.2"  # the shape stays: assertions on other keys still work


@pytest.mark.parametrize("kind", ["memory", "redis"])
def test_the_journal_keeps_its_byte_budget(kind):
    with EmulatorServer(Settings(journal_mb=0.25, journal_body_kb=16, **backend_overrides(kind))) as running:
        with httpx.Client(base_url=running.base_url, headers={"Authorization": f"Bearer {KEY}"},
                          timeout=TIMEOUT) as http:
            for number in range(40):
                chat(http, f"{number} " + "x" * 15_000)
            entries = http.get("/_emulator/journal").json()["requests"]
            assert 8 <= len(entries) < 40  # ~16 KB each within 256 KB: the oldest went
            assert entries[0]["body"]["messages"][0]["content"].startswith("39 ")
            assert http.get("/_emulator/health").json()["journal"] == len(entries)
            http.post("/_emulator/reset")


def test_journal_entries_through_the_test_thread_view(on_backend, backend_http):
    chat(backend_http, "seen")
    entries = on_backend.emulator.journal.entries()
    assert [e.body["messages"][0]["content"] for e in entries] == ["seen"]
    on_backend.emulator.scripts.add({"name": "py", "response": {"content": "from python"}})
    assert text_of(chat(backend_http)) == "from python"
    on_backend.emulator.reset()
    assert on_backend.emulator.journal.entries() == []



def test_a_journal_of_several_pages_streams_whole_and_in_pages(backend_http):
    for _ in range(1100):  # more than two of the backend's pages (500 entries)
        backend_http.get("/api/v2/models")
    everything = backend_http.get("/_emulator/journal").json()["requests"]
    seqs = [e["seq"] for e in everything]
    assert len(seqs) == 1100 and seqs == sorted(seqs, reverse=True)
    walked, before = [], None
    while True:
        params = {"limit": 400, **({"before": before} if before else {})}
        page = backend_http.get("/_emulator/journal", params=params).json()["requests"]
        if not page:
            break
        walked += [e["seq"] for e in page]
        before = page[-1]["seq"]
    assert walked == seqs
    oldest_first = backend_http.get("/_emulator/journal", params={"after": seqs[-1] - 1, "limit": 600}).json()
    assert [e["seq"] for e in oldest_first["requests"]] == seqs[::-1][:600]


def test_on_redis_the_state_survives_a_restart_of_the_emulator():
    overrides = backend_overrides("redis")  # one prefix for both lives of the emulator
    fixture = {"name": "kept", "times": 2, "match": {"last_user_message": "again"},
               "response": {"content": "K"}}
    with EmulatorServer(Settings(**overrides)) as first:
        with httpx.Client(base_url=first.base_url, headers={"Authorization": f"Bearer {KEY}"},
                          timeout=TIMEOUT) as http:
            http.post("/_emulator/fixtures", json=fixture)
            assert text_of(chat(http, "again")) == "K"
    with EmulatorServer(Settings(**overrides)) as second:
        with httpx.Client(base_url=second.base_url, headers={"Authorization": f"Bearer {KEY}"},
                          timeout=TIMEOUT) as http:
            listed = http.get("/_emulator/fixtures").json()["fixtures"]
            assert [(f["name"], f["uses"]) for f in listed] == [("kept", 1)]
            answers = [text_of(chat(http, "again")) for _ in range(2)]
            assert answers[0] == "K" and answers[1] != "K"  # the second use of two, then used up
            journal = http.get("/_emulator/journal").json()["requests"]  # the first life's entry too
            assert [e["fixture"] for e in journal] == [None, "kept", "kept"]
            http.post("/_emulator/reset")


@contextlib.contextmanager
def two_workers() -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """Two servers on one Redis prefix (two workers), and a client of each."""
    overrides = backend_overrides("redis")
    headers = {"Authorization": f"Bearer {KEY}"}
    with EmulatorServer(Settings(**overrides)) as one, EmulatorServer(Settings(**overrides)) as two, \
            httpx.Client(base_url=one.base_url, headers=headers, timeout=TIMEOUT) as first, \
            httpx.Client(base_url=two.base_url, headers=headers, timeout=TIMEOUT) as second:
        yield first, second


def test_on_redis_a_file_uploaded_renamed_or_deleted_on_one_worker_is_listed_so_on_the_next():
    with two_workers() as (first, second):
        assert second.get("/api/v2/files").json()["count"] == 0
        file_id = first.post("/api/v2/files", files={"file": ("a.txt", b"alpha beta")}).json()["id"]
        assert [f["id"] for f in second.get("/api/v2/files").json()["data"]] == [file_id]
        renamed = first.patch(f"/api/v3/files/{file_id}", json={"title": "renamed"})
        assert renamed.status_code == 200, renamed.text
        assert second.get("/api/v2/files").json()["data"][0]["title"] == "renamed"
        first.delete(f"/api/v2/files/{file_id}")
        assert second.get("/api/v2/files").json()["count"] == 0
        second.post("/_emulator/reset")


def test_a_reset_brings_the_seeded_workspaces_back(backend_http):
    before = backend_http.get("/api/v3/workspaces").json()
    assert backend_http.post("/_emulator/reset").json() == {"reset": True}
    assert backend_http.get("/api/v3/workspaces").json() == before


def test_on_redis_a_workspace_made_or_renamed_on_one_worker_is_listed_so_on_the_next():
    with two_workers() as (first, second):
        before = [w["id"] for w in second.get("/api/v3/workspaces").json()["results"]]
        made = first.post("/api/v3/workspaces", json={"name": "Research", "description": "Papers"}).json()
        assert [w["id"] for w in second.get("/api/v3/workspaces").json()["results"]] == [made["id"], *before]
        assert first.patch(f"/api/v3/workspaces/{made['id']}", json={"name": "Renamed"}).status_code == 200
        assert second.get("/api/v3/workspaces").json()["results"][0]["name"] == "Renamed"
        second.post("/_emulator/reset")
