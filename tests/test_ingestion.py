"""Ingestion through real HTTP: off the event loop, within its budgets, and never stuck."""

from __future__ import annotations

import gc
import io
import os
import subprocess
import threading
import time
import uuid
import zipfile

import httpx
import pytest
from conftest import KEY, REDIS_URL
from sample_documents import make_docx, make_pdf

from emulator.documents.store import FileStore, NewFile
from tests.cli_process import start_cli

AUTH = {"Authorization": f"Bearer {KEY}"}


def client_for(server) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, headers=AUTH, timeout=60)


def prose(size: int) -> bytes:
    """``size`` bytes of numbered paragraphs (built in one join: growing a string piece by piece
    copies it each time, which takes seconds for a few MB)."""
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho".split()
    sentence = " ".join(words[(i * 7) % len(words)] for i in range(40)) + ". "
    paragraphs, length = [], 0
    while length < size:
        paragraph = f"Paragraph {len(paragraphs)}: " + sentence * 3 + "\n\n"
        paragraphs.append(paragraph)
        length += len(paragraph)
    return "".join(paragraphs)[:size].encode()


def docx_bomb(unpacked_mb: float) -> bytes:
    """A real DOCX with one more part: ``unpacked_mb`` of XML that deflates ~1000 to 1 (the shape of an
    868 KB file that unpacks to 200 MB)."""
    source = zipfile.ZipFile(io.BytesIO(make_docx([["A harmless looking document"]])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bomb:
        for member in source.infolist():
            bomb.writestr(member, source.read(member))
        row = b"<w:p><w:r><w:t>" + b"A" * 200 + b"</w:t></w:r></w:p>"
        rows = int(unpacked_mb * 1024 * 1024 / len(row))
        bomb.writestr("word/glossary/bomb.xml", b"<root>" + row * rows + b"</root>")
    return out.getvalue()


def upload(http: httpx.Client, name: str, data: bytes) -> int:
    response = http.post("/api/v2/files", files={"file": (name, data)})
    assert response.status_code == 200, response.text
    return response.json()["id"]


@pytest.mark.timing
def test_health_keeps_answering_while_a_big_file_ingests() -> None:
    """The CLI server in a process of its own (so that nothing of this test's process weighs on it),
    an 8 MB text file (~5,600 chunks to embed) ingesting, and health probed all the while. Ingestion
    that held the event loop would hold a probe for about as long as the ingestion; off the loop, the
    slowest probe is a small part of it (the absolute figure is bench/'s to measure)."""
    process, base = serve_cli()
    root = base.rsplit("/api/v2", 1)[0]
    try:
        with httpx.Client(base_url=root, headers=AUTH, timeout=60) as http, \
                httpx.Client(base_url=root, timeout=5) as probe:
            file_id = upload(http, "big.txt", prose(8 * 1024 * 1024))
            waited: dict = {}
            # A request for the file waits for its ingestion (--ingest-ms 0): it ends when the work ends.
            waiting = threading.Thread(
                target=lambda: waited.update(http.get(f"/api/v2/files/{file_id}").json()))
            work_started = time.perf_counter()
            waiting.start()
            latencies = []
            gc.disable()  # this process's own collector (pytest holds a large heap) must not stop the clock
            try:
                while waiting.is_alive():
                    started = time.perf_counter()
                    assert probe.get("/_emulator/health").status_code == 200
                    latencies.append(time.perf_counter() - started)
            finally:
                gc.enable()
            waiting.join(timeout=60)
            work_took = time.perf_counter() - work_started
    finally:
        process.kill()
        process.wait(timeout=15)
        process.communicate()  # closes its pipes
    assert waited["status"] == "embedded"
    assert len(latencies) >= 10, "the ingestion was too quick to show anything"
    assert max(latencies) < work_took / 4, (work_took, sorted(latencies)[-5:])


def serve_cli(*flags: str) -> tuple[subprocess.Popen, str]:
    """``paradigm-emulator serve`` on a free port -> (the process, its v2 base URL)."""
    process, root = start_cli(*flags)
    return process, root + "/api/v2"


@pytest.mark.parametrize("settings, unpacked_mb, needle", [
    pytest.param({"max_extracted_mb": 5}, 20, "over the 5 MB limit (--max-extracted-mb)", id="unpacked-size"),
    pytest.param({"max_zip_ratio": 50}, 2, "over the limit of 50 (--max-zip-ratio)", id="ratio"),
])
@pytest.mark.timing
def test_a_docx_bomb_is_parsing_failed_naming_the_limit_and_the_server_carries_on(
        make_server, settings, unpacked_mb, needle) -> None:
    server = make_server(**settings)
    bomb = docx_bomb(unpacked_mb)
    assert len(bomb) < unpacked_mb * 1024 * 1024 / 20  # small packed, large unpacked
    with client_for(server) as http:
        started = time.perf_counter()
        file_id = upload(http, "bomb.docx", bomb)
        body = http.get(f"/api/v2/files/{file_id}").json()
        assert time.perf_counter() - started < 10.0  # refused from its central directory, not inflated
        assert body["status"] == "parsing_failed"
        assert "bomb.docx" in body["status_details"] and needle in body["status_details"]
        v3 = http.get(f"/api/v3/files/{file_id}").json()
        assert needle in v3["status_detail"]
        fine = upload(http, "fine.txt", b"An ordinary file.")
        assert http.get(f"/api/v2/files/{fine}").json()["status"] == "embedded"


def test_a_docx_within_the_budgets_is_read(make_server):
    server = make_server(max_extracted_mb=5)
    with client_for(server) as http:
        file_id = upload(http, "fine.docx", make_docx([["Within budget"]]))
        assert http.get(f"/api/v2/files/{file_id}").json()["status"] == "embedded"


def test_a_pdf_over_the_page_limit_is_parsing_failed(make_server):
    server = make_server(max_pdf_pages=3)
    with client_for(server) as http:
        over = upload(http, "long.pdf", make_pdf([f"Page {n}" for n in range(1, 6)]))
        within = upload(http, "short.pdf", make_pdf(["one", "two", "three"]))
        body = http.get(f"/api/v2/files/{over}").json()
        assert body["status"] == "parsing_failed"
        assert "'long.pdf': it has 5 pages, over the limit of 3 (--max-pdf-pages)" in body["status_details"]
        assert http.get(f"/api/v2/files/{within}").json()["total_pages"] == 3


def test_a_file_left_by_a_worker_that_died_is_taken_over(make_server):
    server = make_server()
    # Another worker on the same backend stored this upload, took its lease, and died at once.
    dead = FileStore(server.app.state.emulator.state, epoch=server.settings.epoch)
    dead.lease = ("a-dead-worker", 0.0)  # a lease that has already run out
    orphan = NewFile("orphan.txt", "orphan.txt", "documents", 1, b"Left behind by a dead worker.")
    record = server.run(dead.add(orphan))
    assert record.lease == "a-dead-worker"
    with client_for(server) as http:
        body = http.get(f"/api/v2/files/{record.id}", params={"include_content": "true"}).json()
    assert (body["status"], body["content"]) == ("embedded", "Left behind by a dead worker.")


def test_a_file_deleted_while_it_ingests_leaves_nothing_behind(make_server):
    server = make_server(ingest_ms=60_000)
    with client_for(server) as http:
        file_id = upload(http, "big.txt", prose(2 * 1024 * 1024))
        assert http.delete(f"/api/v2/files/{file_id}").status_code == 200
        deadline = time.monotonic() + 30
        state = server.emulator.state
        while time.monotonic() < deadline and not server.emulator.ingestion.idle():
            time.sleep(0.05)
        assert server.emulator.ingestion.idle()
        for space in ("files", "file-bytes", "file-pages", "file-chunks", "file-vectors"):
            assert state.items(space) == {}, space


@pytest.mark.skipif(not REDIS_URL and not os.environ.get("CI"), reason="needs PARADIGM_TEST_REDIS_URL")
def test_a_file_whose_worker_was_killed_mid_ingestion_is_taken_over_by_another_worker(make_server):
    """Two emulators on one Redis: the first stores an upload, takes its lease, and is SIGKILLed while
    it ingests; the second, asked for the file once the lease has run out (a second here instead of
    the default 5), ingests it itself."""
    prefix = f"paradigm-test-{uuid.uuid4().hex[:12]}:"
    process, root = start_cli("--redis-url", REDIS_URL, "--redis-prefix", prefix,
                              env={"PARADIGM_EMULATOR_INGEST_LEASE_S": "1"})
    base = root + "/api/v2"
    try:
        created = httpx.post(f"{base}/files", files={"file": ("big.txt", prose(8 * 1024 * 1024))},
                             headers=AUTH, timeout=30)
        assert created.status_code == 200, created.text
    finally:
        process.kill()  # mid-ingestion: 8 MB take most of a second to embed, after the upload answered
        process.wait(timeout=15)
        process.communicate()  # closes its pipes
    second = make_server(redis_url=REDIS_URL, redis_prefix=prefix)
    left = second.emulator.files.get(created.json()["id"])
    assert left.state == "queued" and left.lease not in (None, second.emulator.ingestion.owner)
    with client_for(second) as http:
        body = http.get(f"/api/v2/files/{left.id}").json()
    assert (body["status"], body["total_pages"]) == ("embedded", 1)
    assert second.emulator.files.get(left.id).lease is None
