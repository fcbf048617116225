"""Memory under load: the server's resident size after a million requests of every size the limits allow.

    .venv/bin/python bench/bench_memory.py [--requests 1000000] [--large 200]

Starts ``paradigm-emulator serve`` (the real CLI, default settings, memory backend) and sends:

1. ``--large`` chat requests of 1 to 5 MB each (a long user message) and as many embeddings batches
   of 1,000 inputs: requests that would grow an unbounded journal and memo by their whole size;
2. then wrk, for as long as it takes to reach ``--requests`` in all, with a new body on every
   request (so each one is a new memo key and a new journal entry) of 200 bytes to 20 KB.

The resident size (``VmRSS``) is read every second; the script prints it after each phase, the
peak, and whether it stayed under the documented ceiling (README, Limits and safety): the journal
(``--journal-mb``) and the memo (``--memo-mb``) are bounded in bytes, so what is left is the
interpreter, the compiled specs and the transient work of the requests in flight.
Needs ``wrk`` on PATH. Loopback only; every phase is bounded in time.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from launch import start_emulator  # noqa: E402

KEY = "bench-key"
CEILING_MB = 500  # the figure the README documents (Limits and safety)


def rss_mb(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", text).group(1)) / 1024


class Sampler(threading.Thread):
    """The server's resident size, once a second, and the peak seen."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0.0, threading.Event()

    def run(self) -> None:
        while not self.stop.wait(1.0):
            try:
                self.peak = max(self.peak, rss_mb(self.pid))
            except (OSError, AttributeError):
                return


def large_requests(base: str, count: int) -> int:
    """``count`` chat requests of 1-5 MB and ``count`` embeddings batches of 1,000 inputs, 4 at a time."""
    headers = {"Authorization": f"Bearer {KEY}"}

    def chat(i: int) -> int:
        text = f"word{i} " * (150_000 + (i % 5) * 150_000)  # ~1 to ~5 MB
        body = {"model": "alfred-4.2", "messages": [{"role": "user", "content": text}], "max_tokens": 4}
        return httpx.post(
            base + "/api/v2/chat/completions", json=body, headers=headers, timeout=120
        ).status_code

    def embed(i: int) -> int:
        body = {"model": "multilingual-e5-large", "input": [f"batch {i} text {j}" for j in range(1000)]}
        return httpx.post(base + "/api/v2/embeddings", json=body, headers=headers, timeout=120).status_code

    statuses = []
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        statuses += list(pool.map(chat, range(count)))
        statuses += list(pool.map(embed, range(count)))
    return sum(1 for s in statuses if s < 500)


LUA = """
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer %s"
wrk.headers["Content-Type"] = "application/json"
counter = 0
request = function()
  counter = counter + 1
  local words = string.rep("lorem ipsum ", (counter %% 1700) + 10)
  local body = string.format(
    '{"model":"alfred-4.2","max_tokens":8,"messages":[{"role":"user","content":"%%d %%s"}]}',
    counter, words)
  return wrk.format(nil, "/api/v2/chat/completions", nil, body)
end
""" % KEY  # noqa: UP031 -- Lua is full of % signs: %-formatting leaves them as written


def many_requests(base: str, total: int, rate_guess: float = 3000.0) -> int:
    """wrk with a new 200 B - 20 KB body every request, until about ``total`` requests are made."""
    done = 0
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(LUA)
    try:
        while done < total:
            seconds = max(5, min(120, int((total - done) / rate_guess) + 1))
            out = subprocess.run(
                ["wrk", "-t1", "-c32", f"-d{seconds}s", "--timeout", "10s", "-s", f.name, base],
                capture_output=True,
                text=True,
                timeout=seconds + 60,
            ).stdout
            made = int(re.search(r"(\d+) requests in", out).group(1))
            rate_guess = max(100.0, made / seconds)
            done += made
            print(f"  ... {done:,} requests ({made / seconds:,.0f} req/s)", flush=True)
    finally:
        os.unlink(f.name)
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--large", type=int, default=200)
    parser.add_argument(
        "--emulator-arg", action="append", default=[], help="a flag for the server (repeatable)"
    )
    args = parser.parse_args(argv)
    process, base = start_emulator(*args.emulator_arg)
    sampler = Sampler(process.pid)
    sampler.start()
    try:
        start = rss_mb(process.pid)
        print(f"started: {start:.0f} MB")
        began = time.monotonic()
        ok = large_requests(base, args.large)
        print(
            f"after {2 * args.large} large requests ({ok} answered < 500, {time.monotonic() - began:.0f} s): "
            f"{rss_mb(process.pid):.0f} MB"
        )
        journal = httpx.get(base + "/_emulator/journal?limit=1", timeout=30)
        print(f"  GET /_emulator/journal?limit=1: {len(journal.content):,} bytes in "
              f"{journal.elapsed.total_seconds() * 1000:.1f} ms")
        made = many_requests(base, args.requests)
        end = rss_mb(process.pid)
        began = time.monotonic()
        with httpx.stream("GET", base + "/_emulator/journal", timeout=120) as whole:
            size = sum(len(part) for part in whole.iter_bytes())
        print(
            f"after {made:,} more requests: {end:.0f} MB; the whole journal: {size / 1e6:.1f} MB streamed in "
            f"{time.monotonic() - began:.2f} s"
        )
        print(f"peak: {max(sampler.peak, end):.0f} MB (documented ceiling {CEILING_MB} MB): "
              f"{'under' if max(sampler.peak, end) < CEILING_MB else 'OVER'}")
        print(
            json.dumps(
                {
                    "start_mb": round(start),
                    "end_mb": round(end),
                    "peak_mb": round(max(sampler.peak, end)),
                    "requests": made + 2 * args.large,
                }
            )
        )
    finally:
        sampler.stop.set()
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
