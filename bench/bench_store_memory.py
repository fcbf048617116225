"""Benchmark of the document store's memory: server memory per MB of text stored, at 5, 50 and 200 MB.

    .venv/bin/python bench/bench_store_memory.py [--sizes 5,50,200] [--file-mb 5]

Starts ``paradigm-emulator serve`` (the real CLI, memory backend, default settings), uploads
text files of ``--file-mb`` each (prose from a fixed seed, ``bench_files.prose``) until each size
is stored, makes one search after each (so the lexical index and the vectors' matrix are built
and counted), then prints the growth of the server's resident size (``VmRSS``) over the size
stored, against the resident size after a warm-up upload and search. Also prints the time from
the first upload to the last ``embedded``. Bounded: every request has a timeout; the server is
stopped at the end.
"""

from __future__ import annotations

import argparse
import sys
import time

import httpx
from bench_files import KEY, MB, QUESTIONS, prose, rss_bytes
from launch import start_emulator, stop

TIMEOUT = httpx.Timeout(600.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5,50,200", help="MB stored at each reading, comma-separated")
    parser.add_argument("--file-mb", type=int, default=5)
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    process, base_url = start_emulator()
    try:
        with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {KEY}"},
                          timeout=TIMEOUT) as http:
            def upload(name: str, data: bytes) -> None:
                response = http.post("/api/v2/files", files={"file": (name, data)})
                response.raise_for_status()
                status = http.get(f"/api/v2/files/{response.json()['id']}").json()["status"]
                if status != "embedded":
                    raise SystemExit(f"{name}: status {status}")

            upload("warm-up.txt", prose(20_000, seed=1))
            http.post("/api/v2/query", json={"query": QUESTIONS[0]}).raise_for_status()
            baseline = rss_bytes(process.pid)
            print(f"memory backend; resident after a warm-up: {baseline / MB:.0f} MB")
            stored, n = 0, 0
            started = time.perf_counter()
            for size in sizes:
                while stored < size * MB:
                    data = prose(args.file_mb * MB, seed=900 + n)
                    upload(f"stored-{n}.txt", data)
                    stored += len(data)
                    n += 1
                took = time.perf_counter() - started
                http.post("/api/v2/query", json={"query": QUESTIONS[n % len(QUESTIONS)]}).raise_for_status()
                grown = rss_bytes(process.pid) - baseline
                print(f"  {stored / MB:5.0f} MB stored: {grown / MB:6.0f} MB more resident, "
                      f"{grown / stored:4.2f} MB per MB stored   "
                      f"({stored / MB / took:5.1f} MB/s to embedded)",
                      flush=True)
    finally:
        stop(process)
    return 0


if __name__ == "__main__":
    sys.exit(main())
