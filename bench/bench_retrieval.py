"""Benchmark of retrieval at scale: every search endpoint over 10,000 and 100,000 stored chunks.

    .venv/bin/python bench/bench_retrieval.py [--chunks 10000,100000] [--backends memory,redis]
                                              [--searches 50] [--series repeated,fresh] [--root DIR]

For each backend, starts ``paradigm-emulator serve`` (the real CLI; with ``--redis-url`` a
redis-server of its own on a free port, which must be on PATH), uploads files of exactly 1,000
chunks each (checked with the emulator's own chunker) until the store holds the number of chunks
asked, then times sequential requests over real HTTP and prints p50 and p99 for:

* ``POST /api/v2/query`` (n = 5), ``POST /api/v2/chat/document-search``,
* ``POST /api/v3/retrieve`` (top_k = 20),
* a v3 turn whose agent calls ``document_search`` (``force_tool``), the search's turn-tool path.

The first search after an upload builds this process's lexical index and vector matrix: it is
made (and not timed) before each series. In the ``repeated`` series the questions repeat (four of
them), so after the first round they are answered from the search memo, as a suite's repeated
questions are; in the ``fresh`` one every question is new (a number appended), so each is
searched. Beside p50 and p99, the server's CPU time per request (all its threads, from /proc): on
a shared machine, the figure the others' load changes least. ``--root``: the checkout to serve
(another one: a before/after comparison in one sitting). Text is prose from a fixed seed
(``bench_files.prose``), so every run measures the same bytes. Bounded: every request has a
timeout, every process is stopped at the end.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from bench_files import QUESTIONS, prose
from launch import start_emulator, stop

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from emulator.documents.chunking import spans  # noqa: E402

KEY = "bench-key"
TIMEOUT = httpx.Timeout(600.0)
PER_FILE = 1000
ENDPOINTS = [
    ("query (n=5)", "/api/v2/query", lambda q: {"query": q, "n": 5}),
    ("document-search", "/api/v2/chat/document-search", lambda q: {"query": q}),
    ("v3 retrieve (top_k=20)", "/api/v3/retrieve", lambda q: {"query": q, "top_k": 20}),
    ("v3 turn, document_search", "/api/v3/threads/turns",
     lambda q: {"query": q, "force_tool": "document_search"}),
]


def document(seed: int) -> bytes:
    """Prose of exactly ``PER_FILE`` chunks."""
    data = prose(PER_FILE * 1400, seed=seed)
    while len(spans(data.decode())) > PER_FILE:
        data = data[:-2000]
    while len(spans(data.decode())) < PER_FILE:
        data += prose(300, seed=seed + 1)
    while len(spans(data.decode())) > PER_FILE:
        data = data[:-50]
    assert len(spans(data.decode())) == PER_FILE
    return data


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered) * 1000:8.2f} ms   p99 {p99 * 1000:8.2f} ms"


def fill(http: httpx.Client, stored: int, wanted: int) -> float:
    """Upload files of PER_FILE chunks until ``wanted`` are stored: -> MB uploaded."""
    uploaded = 0
    for n in range(stored // PER_FILE, wanted // PER_FILE):
        data = document(seed=50_000 + n)
        response = http.post("/api/v2/files", files={"file": (f"corpus-{n}.txt", data)})
        response.raise_for_status()
        status = http.get(f"/api/v2/files/{response.json()['id']}").json()["status"]
        if status != "embedded":
            raise SystemExit(f"corpus-{n}.txt: status {status}")
        uploaded += len(data)
    return uploaded / 1024 / 1024


def cpu_seconds(pid: int) -> float:
    """The process's CPU time so far, every thread's (user and system), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(http: httpx.Client, pid: int, searches: int, fresh: bool) -> None:
    print(f"   {'fresh' if fresh else 'repeated'} questions", flush=True)
    for round_, (name, path, body) in enumerate(ENDPOINTS):
        http.post(path, json=body(QUESTIONS[0])).raise_for_status()  # warm: index and matrix built
        samples = []
        cpu = cpu_seconds(pid)
        for i in range(searches):
            question = QUESTIONS[i % len(QUESTIONS)]
            if fresh:
                question = f"{question} {round_ * searches + i}"
            started = time.perf_counter()
            response = http.post(path, json=body(question))
            samples.append(time.perf_counter() - started)
            response.raise_for_status()
        per_request = (cpu_seconds(pid) - cpu) / searches
        print(f"    {name:<26} {percentiles(samples)}   server CPU {per_request * 1000:6.2f} ms", flush=True)


def run(backend: str, sizes: list[int], searches: int, series: list[str], root: Path) -> None:
    redis: subprocess.Popen | None = None
    flags: list[str] = []
    if backend == "redis":
        port = free_port()
        redis = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                  "--appendonly", "no", "--dir", tempfile.mkdtemp()],
                                 stdout=subprocess.DEVNULL)
        time.sleep(0.5)
        flags = ["--redis-url", f"redis://127.0.0.1:{port}/0"]
    process, base_url = start_emulator(*flags, root=root)
    try:
        headers = {"Authorization": f"Bearer {KEY}"}
        with httpx.Client(base_url=base_url, headers=headers, timeout=TIMEOUT) as http:
            stored = 0
            for size in sizes:
                megabytes = fill(http, stored, size)
                stored = size
                print(f"  {backend}: {size:,} chunks stored ({megabytes:.0f} MB added), "
                      f"{searches} sequential requests each", flush=True)
                for name in series:
                    measure(http, process.pid, searches, name == "fresh")
    finally:
        stop(process)
        if redis is not None:
            redis.terminate()
            redis.wait(timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", default="10000,100000", help="comma-separated store sizes, in chunks")
    parser.add_argument("--backends", default="memory,redis")
    parser.add_argument("--searches", type=int, default=50)
    parser.add_argument("--series", default="repeated",
                        help="comma-separated: repeated (four questions over and over), fresh (each new)")
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout to serve")
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.chunks.split(","))
    print("retrieval over real HTTP (each series after one untimed warm-up request)")
    for backend in args.backends.split(","):
        run(backend, sizes, args.searches, args.series.split(","), args.root.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
