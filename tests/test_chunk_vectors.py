"""Chunk vectors computed in bulk (numpy) are, to the last float32 bit, those /embeddings computes
one text at a time in Python, on thousands of chunks of every kind."""

from __future__ import annotations

import hashlib
import random
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from ranking_corpus import corpus

from emulator.documents import chunk_vectors
from emulator.documents.chunk_vectors import BATCH, packed_vectors
from emulator.documents.chunking import Cancelled, chunk_uuid, ingest, spans
from emulator.documents.extraction import Budget
from emulator.documents.store import FileRecord
from emulator.generation.vectors import embed_uncached, pack_float32

ODD_TEXTS = ["", " ", "\n\n", "a", "A", "_", "9", "x" * 5000, "İstanbul İİ ǅungla ﬁne STRASSE Straße",
             "ΣΑΣ σας", "東京 データ 한국어", "émigré naïve café", "tab\tsep\x0bvertical\x0cform",
             "under_score snake_case CamelCase 123abc", "a\u0301 e\u0308", "\U0001F600 emoji \U0001F600",
             "the the the the the the the the", "ab" * 700 + " " + "ab " * 400]


def one_at_a_time(texts: list[str], size: int) -> bytes:
    return b"".join(pack_float32(embed_uncached(t, size, size)) for t in texts)


def corpus_chunks(limit: int) -> list[str]:
    texts = []
    for _, data in corpus():
        text = data.decode()
        texts += [text[start:end] for start, end in spans(text)]
        if len(texts) >= limit:
            break
    return texts[:limit]


def random_texts(count: int) -> list[str]:
    rng = random.Random(7)
    alphabet = "abcdeéÉßİıΣσ東_0 \n.,;!?-'\"" + "ABCDEFG"
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 400))) for _ in range(count)]


def test_bulk_vectors_are_bit_identical_on_2000_corpus_chunks():
    texts = corpus_chunks(2000)
    assert len(texts) == 2000 and len(texts) > BATCH  # several batches
    assert packed_vectors(texts, 1024) == one_at_a_time(texts, 1024)


@pytest.mark.parametrize("size", [1, 7, 64, 384, 1024, 4096])
def test_bulk_vectors_are_bit_identical_on_odd_and_random_texts(size):
    texts = ODD_TEXTS + random_texts(300)
    assert packed_vectors(texts, size) == one_at_a_time(texts, size)


def test_no_texts_give_no_bytes():
    assert packed_vectors([], 1024) == b""


def test_ingestion_stores_the_vectors_each_chunk_text_has_alone():
    text = "\n\n".join(corpus_chunks(700))
    record = FileRecord(id=1, nonce="n", filename="a.txt", title="a.txt", purpose="documents",
                        workspace_id=1, size=len(text), created_at=1, uploaded=0.0)
    extracted = ingest(record, text.encode(), None, 1024, Budget())
    assert extracted.failure is None and len(extracted.spans) > 600
    chunk_texts = [extracted.pages[page - 1][start:end] for _, page, start, end in extracted.spans]
    assert extracted.vectors == one_at_a_time(chunk_texts, 1024)


def test_a_vocabulary_started_afresh_gives_the_same_vectors(monkeypatch):
    monkeypatch.setattr(chunk_vectors, "MOST_WORDS", 50)
    texts = corpus_chunks(BATCH + 100)
    assert packed_vectors(texts, 64) == one_at_a_time(texts, 64)


def file_record(size: int) -> FileRecord:
    return FileRecord(id=1, nonce="n", filename="a.txt", title="a.txt", purpose="documents",
                      workspace_id=1, size=size, created_at=1, uploaded=0.0)


@pytest.mark.parametrize("helpers", [1, 3])
def test_ingestion_shared_with_helper_threads_stores_the_same_vectors(helpers):
    text = "\n\n".join(corpus_chunks(3 * BATCH + 10))
    with ThreadPoolExecutor(helpers) as pool:
        extracted = ingest(file_record(len(text)), text.encode(), None, 256, Budget(), None, (pool, helpers))
    assert extracted == ingest(file_record(len(text)), text.encode(), None, 256, Budget())
    chunk_texts = [extracted.pages[page - 1][start:end] for _, page, start, end in extracted.spans]
    assert extracted.vectors == one_at_a_time(chunk_texts, 256)


def test_a_share_no_helper_has_begun_is_done_by_the_ingesting_thread():
    text = "\n\n".join(corpus_chunks(2 * BATCH + 10))
    release = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        pool.submit(release.wait)  # the only helper, busy until the file is ingested
        try:
            extracted = ingest(file_record(len(text)), text.encode(), None, 256, Budget(), None, (pool, 1))
        finally:
            release.set()
    assert extracted == ingest(file_record(len(text)), text.encode(), None, 256, Budget())


def test_chunk_uuids_are_the_version_4_uuids_of_the_sha256_of_file_and_position():
    record = file_record(10)
    for index in (0, 1, 9, 12345):
        key = f"chunk:{record.id}:{record.created_at}:{record.filename}:{index}"
        digest = hashlib.sha256(key.encode()).digest()
        assert chunk_uuid(record, index) == str(uuid.UUID(bytes=digest[:16], version=4))


def test_an_ingestion_cancelled_with_helpers_stops_them_too():
    text = "\n\n".join(corpus_chunks(4 * BATCH))
    cancelled = threading.Event()
    cancelled.set()  # deleted before the first batch ends
    with ThreadPoolExecutor(1) as pool:
        with pytest.raises(Cancelled):
            ingest(file_record(len(text)), text.encode(), None, 256, Budget(), cancelled, (pool, 1))
        assert pool.submit(lambda: "free").result() == "free"
