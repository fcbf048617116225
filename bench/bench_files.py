"""Benchmark of the document store: upload throughput, memory per MB stored, search latency.

    .venv/bin/python bench/bench_files.py [--searches 200] [--only uploads|search] [--root DIR]

Starts ``paradigm-emulator serve`` (the real CLI, a process of its own so its memory can be read
from /proc) on a free loopback port, then prints:

* upload MB/s for 1 MB and 20 MB text files: the POST alone (the file is stored and queued), and
  upload-to-embedded (the POST plus the first GET, which waits for extraction, chunking and embedding),
  and MB per second of the server's CPU time (all its threads, from /proc: on a shared machine,
  the figure the others' load changes least);
* the health check's latency while one more 20 MB file is ingested (ingestion is off the loop);
* memory the server holds per MB stored (resident-set growth over the files' size), after 1 MB and 20 MB;
* document-search and /query latency, p50 and p99, with exactly 1,000 stored chunks, plus
  ``retrieval.search`` without HTTP.

Text is English-like prose from a fixed seed, so every run measures the same bytes. Bounded: every
request has a timeout and the server is stopped at the end. ``--root``: the checkout to serve
(another one: a before/after comparison in one sitting).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import statistics
import sys
import time
from pathlib import Path

import httpx
from launch import start_emulator, stop
from probing import while_probing

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from emulator.app import Emulator  # noqa: E402
from emulator.config import Settings  # noqa: E402
from emulator.documents.chunking import spans  # noqa: E402
from emulator.documents.store import NewFile  # noqa: E402

KEY = "bench-key"
MB = 1024 * 1024
TIMEOUT = httpx.Timeout(300.0)
QUESTIONS = ["What does the contract say about termination?", "Which invoices are overdue?",
             "Who approves the travel budget?", "How is customer data protected?"]


def prose(size: int, seed: int) -> bytes:
    """``size`` bytes of paragraphs of sentences over a 5,000-word vocabulary."""
    rng = random.Random(seed)
    vocabulary = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 10)))
                  for _ in range(5000)] + re.findall(r"\w+", " ".join(QUESTIONS).lower())
    out, length = [], 0
    while length < size:
        sentences = (" ".join(rng.choice(vocabulary) for _ in range(rng.randint(6, 18))).capitalize() + "."
                     for _ in range(rng.randint(3, 8)))
        paragraph = " ".join(sentences) + "\n\n"
        out.append(paragraph)
        length += len(paragraph)
    return "".join(out).encode()[:size]


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def upload(http: httpx.Client, name: str, data: bytes) -> tuple[float, float]:
    """-> (seconds for the POST, seconds until the file is embedded)."""
    started = time.perf_counter()
    response = http.post("/api/v2/files", files={"file": (name, data)})
    posted = time.perf_counter()
    response.raise_for_status()
    status = http.get(f"/api/v2/files/{response.json()['id']}").json()["status"]
    if status != "embedded":
        raise SystemExit(f"{name}: status {status}")
    return posted - started, time.perf_counter() - started


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered) * 1000:7.2f} ms   p99 {p99 * 1000:7.2f} ms"


def cpu_seconds(pid: int) -> float:
    """The process's CPU time so far, every thread's (user and system), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_uploads(http: httpx.Client, pid: int) -> None:
    print("uploads (text/plain, v2 POST /files; 'to embedded' adds the first GET, which waits for ingestion)")
    upload(http, "warm-up.txt", prose(10_000, seed=0))  # imports and caches, not the store
    baseline = rss_bytes(pid)
    stored, resident = 0, []
    for size, count in ((1 * MB, 5), (20 * MB, 2)):
        post_s, done_s, cpu_s = [], [], []
        for n in range(count):
            data = prose(size, seed=size + n)
            cpu = cpu_seconds(pid)
            post, done = upload(http, f"bench-{size}-{n}.txt", data)
            cpu_s.append(cpu_seconds(pid) - cpu)
            post_s.append(post)
            done_s.append(done)
            stored += len(data)
        resident.append((stored, rss_bytes(pid) - baseline))
        print(f"  {size // MB:>3} MB x{count}: POST {size / MB / statistics.median(post_s):7.1f} MB/s   "
              f"to embedded {size / MB / statistics.median(done_s):6.2f} MB/s   "
              f"{size / MB / max(statistics.median(cpu_s), 0.01):6.2f} MB per server CPU-second")
    (small, small_rss), (large, large_rss) = resident
    print(f"  memory: {small_rss / MB:.0f} MB resident for the first {small / MB:.0f} MB stored "
          f"({small_rss / small:.1f} per MB, decoded-vector cache included), then "
          f"{(large_rss - small_rss) / (large - small):.1f} MB per further MB ({large_rss / MB:.0f} MB "
          f"for {large / MB:.0f} MB)")
    data = prose(20 * MB, seed=99)
    health = str(http.base_url.join("/_emulator/health"))
    _, took, latencies = while_probing(lambda: upload(http, "probed.txt", data), health)
    print(f"  health while a 20 MB file is ingested ({took:.1f} s, {len(latencies)} probes): "
          f"{percentiles(latencies)}   max {max(latencies, default=0) * 1000:7.2f} ms")


def thousand_chunks() -> list[bytes]:
    """Ten documents of exactly 100 chunks each (checked with the emulator's own chunker)."""
    documents = []
    for n in range(10):
        data = prose(100 * 1400, seed=1000 + n)
        while len(spans(data.decode())) > 100:
            data = data[:-500]
        while len(spans(data.decode())) < 100:
            data += prose(300, seed=n)
        documents.append(data)
    assert sum(len(spans(d.decode())) for d in documents) == 1000
    return documents


def bench_search(http: httpx.Client, documents: list[bytes], searches: int) -> None:
    print(f"search over 1,000 stored chunks ({searches} sequential requests each)")
    for n, data in enumerate(documents):
        upload(http, f"chunks-{n}.txt", data)
    for name, path, body in (("document-search", "/api/v2/chat/document-search", "query"),
                             ("query (n=5)", "/api/v2/query", "query")):
        samples = []
        for i in range(searches):
            started = time.perf_counter()
            http.post(path, json={body: QUESTIONS[i % len(QUESTIONS)]}).raise_for_status()
            samples.append(time.perf_counter() - started)
        print(f"  {name:<18} {percentiles(samples)}")
    samples = asyncio.run(_search_alone(documents, searches))
    print(f"  {'retrieval.search alone':<18} {percentiles(samples)}")


async def _search_alone(documents: list[bytes], searches: int) -> list[float]:
    """``retrieval.search`` on an in-process emulator holding the same files (no HTTP)."""
    emulator = Emulator(Settings())
    for n, data in enumerate(documents):
        record = await emulator.files.add(NewFile(f"{n}.txt", f"{n}.txt", "documents", 1, data))
        await emulator.ingestion.settle([record])
    samples = []
    for i in range(searches):
        started = time.perf_counter()
        await emulator.retrieval.search(QUESTIONS[i % len(QUESTIONS)], n=5)
        samples.append(time.perf_counter() - started)
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--searches", type=int, default=200)
    parser.add_argument("--only", choices=("uploads", "search"))
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout to serve")
    args = parser.parse_args(argv)
    documents = thousand_chunks()
    for run in (args.only,) if args.only else ("uploads", "search"):
        process, base_url = start_emulator(root=args.root.resolve())
        try:
            headers = {"Authorization": f"Bearer {KEY}"}
            with httpx.Client(base_url=base_url, headers=headers, timeout=TIMEOUT) as http:
                if run == "uploads":
                    bench_uploads(http, process.pid)
                else:
                    bench_search(http, documents, args.searches)
        finally:
            stop(process)
    return 0


if __name__ == "__main__":
    sys.exit(main())
