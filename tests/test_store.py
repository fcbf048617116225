"""The document store: consistency under concurrency, search, snapshots (--data-dir), chunking."""

from __future__ import annotations

import asyncio
import concurrent.futures
import math
import signal
import subprocess
import uuid

import httpx
import pytest
from conftest import KEY, REDIS_URL

from emulator.documents.chunking import CHUNK_CHARS, ingest, spans
from emulator.documents.extraction import Budget
from emulator.documents.store import EMBEDDED, FAILED, FileStore, NewFile
from emulator.state.memory import MemoryBackend
from tests.cli_process import start_cli

DIMS = 1024
pytestmark = pytest.mark.anyio


def http_for(server) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=10)


def new_file(name: str = "a.txt", data: bytes = b"hello") -> NewFile:
    return NewFile(filename=name, title=name, purpose="documents", workspace_id=1, raw=data)


async def embedded(store: FileStore, name: str, text: str):
    record = await store.add(new_file(name, text.encode()))
    return await store.attach(record, ingest(record, text.encode(), None, DIMS, Budget()))


async def test_ids_are_sequential_and_the_list_is_newest_first():
    store = FileStore(MemoryBackend(), epoch=1000)
    first, second = await store.add(new_file("a.txt")), await store.add(new_file("b.txt"))
    assert (first.id, second.id) == (1, 2)
    assert (first.created_at, second.created_at) == (1001, 1002)
    assert [r.id for r in await store.all()] == [2, 1]


async def test_a_record_is_a_value_the_backend_holds():
    backend = MemoryBackend()
    record = await FileStore(backend).add(new_file("a.txt", b"bytes"))
    other = FileStore(backend)  # another worker's store over the same backend
    assert await other.get(record.id) == record
    assert await other.raw(record) == b"bytes"


async def test_delete_drops_the_record_and_its_content():
    backend = MemoryBackend()
    store = FileStore(backend)
    record = await embedded(store, "a.txt", "hello there")
    assert await store.delete(record.id) is True
    assert await store.delete(record.id) is False
    for space in ("files", "file-bytes", "file-pages", "file-chunks", "file-vectors"):
        assert await backend.items(space) == {}


async def test_ids_are_never_reused_after_a_delete():
    store = FileStore(MemoryBackend())
    first = await store.add(new_file())
    await store.delete(first.id)
    assert (await store.add(new_file())).id == first.id + 1


async def test_a_late_ingestion_result_is_not_attached_to_a_new_file_with_the_same_id():
    backend = MemoryBackend()
    store = FileStore(backend)
    old = await store.add(new_file("old.txt", b"old text"))
    await backend.clear()
    new = await store.add(new_file("new.txt", b"new text"))
    assert old.id == new.id
    assert await store.attach(old, ingest(old, b"old text", None, DIMS, Budget())) is None
    assert (await store.get(new.id)).state == "queued"
    assert await store.chunks(new) == []


async def test_attach_stores_pages_chunks_and_the_outcome():
    store = FileStore(MemoryBackend())
    record = await embedded(store, "a.txt", "First page.\fSecond page.")
    assert (record.state, record.total_pages, record.chunk_count) == (EMBEDDED, 2, 2)
    assert await store.pages(record) == ("First page.", "Second page.")
    assert [(c.index, c.page, c.text) for c in await store.chunks(record)] == \
        [(0, 1, "First page."), (1, 2, "Second page.")]


async def test_an_unreadable_file_is_stored_failed_with_its_reason():
    store = FileStore(MemoryBackend())
    record = await store.add(new_file("x.png", b"\x89PNG"))
    failed = await store.attach(record, ingest(record, b"\x89PNG", None, DIMS, Budget()))
    assert failed.state == FAILED
    assert "x.png" in failed.failure


async def test_update_changes_a_value_and_names_no_later_upload():
    store = FileStore(MemoryBackend())
    record = await store.add(new_file())
    changed = await store.update(record.id, lambda r: r.replace(title="New"))
    assert (changed.title, (await store.get(record.id)).title) == ("New", "New")
    assert await store.update(record.id, lambda r: r.replace(title="x"), nonce="other") is None
    assert await store.update(99, lambda r: r) is None


async def test_100_concurrent_adds_and_deletes_leave_a_consistent_store():
    store = FileStore(MemoryBackend())

    async def work(n: int) -> int | None:
        record = await store.add(new_file(f"{n}.txt"))
        if n % 2:
            assert await store.delete(record.id)
            return None
        return record.id

    kept = [i for i in await asyncio.gather(*(work(n) for n in range(100))) if i]
    ids = [r.id for r in await store.all()]
    assert sorted(ids) == sorted(kept)
    assert len(set(ids)) == len(ids) == 50


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


async def test_100_parallel_uploads_and_deletes_leave_a_consistent_listing(server, emulator):
    async with httpx.AsyncClient(base_url=server.base_url, headers={"Authorization": f"Bearer {KEY}"},
                                 timeout=30.0) as http:
        async def upload_then_maybe_delete(n: int) -> int | None:
            document = {"file": (f"doc-{n}.txt", f"document {n}".encode())}
            response = await http.post("/api/v2/files", files=document)
            assert response.status_code == 200, response.text
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
        queued = http.post("/api/v3/files", files={"file": ("tagged.txt", b"tagged")},
                           data={"workspace_id": "3", "tags": ["2"]}).json()
    first.stop()
    second = make_server(data_dir=tmp_path)
    with http_for(second) as http:
        listed = http.get("/api/v2/files").json()["data"]
        assert [(f["id"], f["filename"], f["status"]) for f in listed] == \
            [(2, "tagged.txt", "embedded"), (1, "kept.md", "embedded")]
        assert [t["id"] for t in http.get(f"/api/v3/files/{queued['id']}").json()["tags"]] == [2]
        found = http.post("/api/v2/query", json={"query": "axolotls", "n": 1}).json()
        assert found["chunks"][0]["text"] == "The kept file mentions axolotls."
        assert http.post("/api/v2/files", files={"file": ("new.md", b"new")}).json()["id"] == 3


def test_a_file_killed_mid_ingestion_is_ingested_after_the_restart(tmp_path):
    """--data-dir: the upload was acknowledged, its ingestion never finished (SIGKILL)."""
    process, base = serve(tmp_path, "--ingest-ms", "600000")  # acknowledged, and still "pending"
    try:
        headers = {"Authorization": f"Bearer {KEY}"}
        created = httpx.post(f"{base}/files", files={"file": ("kept.txt", b"kept through a kill")},
                             headers=headers, timeout=10)
        assert created.status_code == 200
    finally:
        process.kill()
        process.wait(timeout=15)
        process.communicate()  # closes its pipes
    process, base = serve(tmp_path)
    try:
        body = httpx.get(f"{base}/files/1", params={"include_content": "true"},
                         headers={"Authorization": f"Bearer {KEY}"}, timeout=10).json()
        assert (body["status"], body["content"]) == ("embedded", "kept through a kill")
    finally:
        stop(process)


def serve(data_dir, *flags: str) -> tuple[subprocess.Popen, str]:
    """``paradigm-emulator serve`` on a free port -> (the process, its v2 base URL)."""
    process, root = start_cli("--data-dir", str(data_dir), *flags)
    return process, root + "/api/v2"


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=15)
    finally:
        process.communicate()  # closes its pipes
        if process.poll() is None:
            process.kill()


@pytest.mark.skipif(not REDIS_URL, reason="needs PARADIGM_TEST_REDIS_URL")
def test_two_emulators_on_one_redis_share_files_and_never_give_an_id_twice(make_server):
    prefix = f"paradigm-test-{uuid.uuid4().hex[:12]}:"
    servers = [make_server(redis_url=REDIS_URL, redis_prefix=prefix) for _ in range(2)]

    def upload_many(server, n: int) -> list[int]:
        with http_for(server) as http:
            ids = []
            for i in range(n):
                document = {"file": (f"{server.port}-{i}.txt", b"shared text")}
                response = http.post("/api/v2/files", files=document)
                assert response.status_code == 200, response.text
                ids.append(response.json()["id"])
                if i % 3 == 2:
                    assert http.delete(f"/api/v2/files/{ids.pop()}").status_code == 200
            return ids

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        kept = [i for ids in pool.map(upload_many, servers * 2, [15] * 4) for i in ids]
    assert len(kept) == len(set(kept)) == 40
    for expected, server in enumerate(servers, 61):  # 60 ids handed out before, by either emulator
        with http_for(server) as http:
            pages = [http.get("/api/v2/files", params={"page": page}).json() for page in (1, 2)]
            listed = [f["id"] for page in pages for f in page["data"]]
            assert sorted(listed) == sorted(kept)
            found = http.post("/api/v3/files", files={"file": ("x.txt", b"x")},
                              data={"workspace_id": "1"}).json()
            assert found["id"] == expected
            assert http.delete(f"/api/v3/files/{found['id']}").status_code == 204
