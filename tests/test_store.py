"""The document store: consistency under concurrency, search, snapshots (--data-dir), chunking."""

from __future__ import annotations

import asyncio
import math
import re
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest

from emulator.generation import vectors as embedding
from emulator.documents.ingestion import CHUNK_CHARS, spans, vector_for
from emulator.documents.store import Chunk, Document, MemoryStore, NewFile

from conftest import KEY

DIMS = 1024


def http_for(server) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=10)


def new_file(name: str = "a.txt", data: bytes = b"hello") -> NewFile:
    return NewFile(filename=name, title=name, purpose="documents", workspace_id=1, raw=data, uploaded=0.0)


def ingest(store: MemoryStore, record, texts: list[str]) -> None:
    chunks = []
    for index, text in enumerate(texts):
        chunks.append(Chunk(f"00000000-0000-4000-8000-{record.id:06d}{index:06d}", index, 1, 0, len(text),
                            vector_for(text, DIMS)))
    store.attach(record, Document(pages=("".join(texts),), chunks=tuple(chunks)))


def test_ids_are_sequential_and_the_list_is_newest_first():
    store = MemoryStore(epoch=1000)
    first, second = store.add(new_file("a.txt")), store.add(new_file("b.txt"))
    assert (first.id, second.id) == (1, 2)
    assert (first.created_at, second.created_at) == (1001, 1002)
    assert [r.id for r in store.list()] == [2, 1]


def test_delete_and_clear():
    store = MemoryStore()
    record = store.add(new_file())
    assert store.delete(record.id) is True
    assert store.delete(record.id) is False
    store.add(new_file())
    store.clear()
    assert store.list() == []
    assert store.add(new_file()).id == 1  # ids start again after a clear


def test_a_late_ingestion_result_is_not_attached_to_a_new_file_with_the_same_id():
    store = MemoryStore()
    old = store.add(new_file("old.txt"))
    store.clear()
    new = store.add(new_file("new.txt"))
    assert old.id == new.id
    assert store.attach(old, Document(pages=("x",))) is False
    assert new.document is None


def test_search_ranks_by_cosine_and_the_score_is_the_cosine_of_the_embeddings():
    store = MemoryStore()
    texts = ["The quokka is a small marsupial.", "Invoices are due within thirty days.",
             "Our office is closed on Mondays."]
    record = store.add(new_file())
    ingest(store, record, texts)
    hits = store.search(embedding.embed("Which animal is a marsupial?", DIMS), 3)
    assert [h.chunk.index for h in hits][0] == 0
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    for hit in hits:
        expected = embedding.cosine(embedding.embed("Which animal is a marsupial?", DIMS),
                                    embedding.embed(texts[hit.chunk.index], DIMS))
        assert hit.score == pytest.approx(expected, abs=1e-6)


def test_search_only_looks_at_the_files_named():
    store = MemoryStore()
    a, b = store.add(new_file("a.txt")), store.add(new_file("b.txt"))
    ingest(store, a, ["quokka facts"])
    ingest(store, b, ["quokka facts too"])
    assert {h.record.id for h in store.search(embedding.embed("quokka", DIMS), 5, [b.id])} == {b.id}
    assert store.search(embedding.embed("quokka", DIMS), 5, []) == []


def test_chunks_beyond_the_decoded_budget_score_the_same():
    hot, cold = MemoryStore(hot_chunks=10), MemoryStore(hot_chunks=0)
    texts = [f"paragraph {i} about subject {i % 7}" for i in range(20)]
    for store in (hot, cold):
        ingest(store, store.add(new_file()), texts)
    query = embedding.embed("subject 3", DIMS)
    assert [(h.chunk.index, h.score) for h in hot.search(query, 5)] == \
        [(h.chunk.index, h.score) for h in cold.search(query, 5)]


def test_threads_adding_and_deleting_leave_a_consistent_store():
    store = MemoryStore()
    kept, lock = [], threading.Lock()

    def work(n: int) -> None:
        for i in range(50):
            record = store.add(new_file(f"{n}-{i}.txt"))
            if i % 2:
                assert store.delete(record.id)
            else:
                with lock:
                    kept.append(record.id)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    ids = [r.id for r in store.list()]
    assert sorted(ids) == sorted(kept)
    assert len(set(ids)) == len(ids) == 200


@pytest.mark.parametrize("text", [
    pytest.param("short text", id="short"),
    pytest.param(("word " * 2000).strip(), id="words"),
    pytest.param("x" * 5000, id="no-spaces"),
    pytest.param(("Sentence number one. " * 300), id="sentences"),
    pytest.param(("para one\n\n" * 500), id="paragraphs"),
])
def test_spans_cover_the_text_within_the_limit(text):
    cut = spans(text)
    assert all(0 < end - start <= CHUNK_CHARS for start, end in cut)
    assert "".join(text[s:e] for s, e in cut).replace(" ", "").replace("\n", "") == \
        text.replace(" ", "").replace("\n", "")


def test_snapshot_and_load_round_trip(tmp_path):
    store = MemoryStore()
    done = store.add(new_file("done.txt"))
    store.attach(done, Document(pages=("page one", "page two")))
    waiting = store.add(new_file("waiting.txt", b"raw bytes"))
    failed = store.add(new_file("failed.pdf"))
    store.attach(failed, Document(failure="broken"))
    store.snapshot(tmp_path)
    loaded = MemoryStore()
    assert loaded.load(tmp_path) == 3
    by_name = {r.filename: r for r in loaded.list()}
    assert by_name["done.txt"].pages == ("page one", "page two")
    assert by_name["waiting.txt"].raw == b"raw bytes"
    assert by_name["failed.pdf"].document.failure == "broken"
    assert loaded.add(new_file()).id == 4
    assert waiting.id == 2


def test_load_names_a_broken_snapshot(tmp_path):
    (tmp_path / "store.json").write_text("{not json")
    with pytest.raises(ValueError, match="store.json"):
        MemoryStore().load(tmp_path)


@pytest.mark.anyio
async def test_100_parallel_uploads_and_deletes_leave_a_consistent_listing(server, emulator):
    async with httpx.AsyncClient(base_url=server.base_url, headers={"Authorization": f"Bearer {KEY}"},
                                 timeout=30.0) as http:
        async def upload_then_maybe_delete(n: int) -> int | None:
            document = {"file": (f"doc-{n}.txt", f"document {n}".encode())}
            response = await http.post("/api/v2/files", files=document)
            assert response.status_code == 201, response.text
            file_id = response.json()["id"]
            if n % 2:
                deleted = await http.delete(f"/api/v2/files/{file_id}")
                assert deleted.status_code == 200, deleted.text
                return None
            return file_id

        kept = [i for i in await asyncio.gather(*(upload_then_maybe_delete(n) for n in range(100))) if i]
        listed = []
        for page in range(1, math.ceil(len(kept) / 20) + 1):
            body = (await http.get("/api/v2/files", params={"page": page})).json()
            assert body["count"] == 50
            listed += [f["id"] for f in body["data"]]
    assert sorted(listed) == sorted(kept)
    assert len(set(listed)) == 50


def test_data_dir_keeps_files_across_a_restart(make_server, tmp_path):
    first = make_server(data_dir=tmp_path)
    with http_for(first) as http:
        created = http.post("/api/v2/files", files={"file": ("kept.md", b"The kept file mentions axolotls.")})
        assert http.get(f"/api/v2/files/{created.json()['id']}").json()["status"] == "embedded"
    first.emulator.save()
    second = make_server(data_dir=tmp_path)
    with http_for(second) as http:
        listed = http.get("/api/v2/files").json()["data"]
        assert [(f["id"], f["filename"], f["status"]) for f in listed] == [(1, "kept.md", "embedded")]
        found = http.post("/api/v2/query", json={"query": "axolotls", "n": 1}).json()
        assert found[0]["chunks"][0]["text"] == "The kept file mentions axolotls."
        assert http.post("/api/v2/files", files={"file": ("new.md", b"new")}).json()["id"] == 2


def test_the_cli_saves_the_store_at_shutdown_and_loads_it_at_start(tmp_path):
    def serve() -> tuple[subprocess.Popen, str]:
        process = subprocess.Popen([sys.executable, "-m", "emulator", "serve", "--port", "0", "--data-dir",
                                    str(tmp_path)], stdout=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            found = re.search(r"v2 base URL: (\S+)", process.stdout.readline())
            if found:
                return process, found.group(1)
        process.kill()
        raise AssertionError("the emulator did not start")

    def stop(process: subprocess.Popen) -> None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        finally:
            process.stdout.close()
            if process.poll() is None:
                process.kill()

    process, base = serve()
    try:
        headers = {"Authorization": f"Bearer {KEY}"}
        created = httpx.post(f"{base}/files", files={"file": ("kept.txt", b"kept")}, headers=headers,
                             timeout=10)
        assert created.status_code == 201
    finally:
        stop(process)
    assert (tmp_path / "store.json").is_file()
    process, base = serve()
    try:
        listed = httpx.get(f"{base}/files", headers={"Authorization": f"Bearer {KEY}"}, timeout=10).json()
        assert [f["filename"] for f in listed["data"]] == ["kept.txt"]
    finally:
        stop(process)
