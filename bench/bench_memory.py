"""Memory under load: the server's resident size after a million requests of every size the limits allow.

    .venv/bin/python bench/bench_memory.py [--requests 1000000] [--large 200] [--step 100000]
        [--env MALLOC_ARENA_MAX=2] [--probe probe.jsonl] [--emulator-arg=--journal-mb=16]

Starts ``paradigm-emulator serve`` (the real CLI, default settings, memory backend) and sends:

1. ``--large`` chat requests of 1 to 5 MB each (a long user message) and as many embeddings batches
   of 1,000 inputs: requests that would grow an unbounded journal and memo by their whole size;
2. then wrk, for as long as it takes to reach ``--requests`` in all, a mix in which most bodies
   are new (so each one is a new memo key and a new journal entry): of ten requests, five chats
   of 200 bytes to 20 KB, a streamed chat, an embeddings request, all with new bodies, a chat
   asked before (a memo hit), ``models`` and a v3 model list.

The resident size (``VmRSS``) is read every second; the script prints the curve (requests made
-> MB, every ``--step`` requests), the peak, and whether it stayed under the documented ceiling
(``docs/limits.md``, Memory has a ceiling): the journal
(``--journal-mb``) and the memo (``--memo-mb``) are bounded in bytes, so what is left is the
interpreter, the compiled specs and the transient work of the requests in flight.
``--probe FILE`` runs the server through ``bench/memory_probe.py`` and has it append what its
memory holds to FILE at every point of the curve (objects by type, the budgets' counted bytes, the
size after ``malloc_trim``; with ``--env PYTHONTRACEMALLOC=1``, tracemalloc's growth by line).
Needs ``wrk`` on PATH. Loopback only; every phase is bounded in time.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from launch import start_emulator, stop  # noqa: E402

KEY = "bench-key"
CEILING_MB = 150  # the figure docs/limits.md documents (Memory has a ceiling)


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
wrk.headers["Authorization"] = "Bearer %s"
wrk.headers["Content-Type"] = "application/json"
counter = 0
request = function()
  counter = counter + 1
  local kind = counter %% 10
  if kind == 5 then  -- asked before: answered from the memo
    return wrk.format("POST", "/api/v2/chat/completions", nil,
      '{"model":"alfred-4.2","max_tokens":8,"messages":[{"role":"user","content":"Hello again"}]}')
  elseif kind == 6 then
    return wrk.format("POST", "/api/v2/chat/completions", nil, string.format(
      '{"model":"alfred-4.2","max_tokens":16,"stream":true,'
      .. '"messages":[{"role":"user","content":"story %%d"}]}',
      counter))
  elseif kind == 7 then
    return wrk.format("POST", "/api/v2/embeddings", nil, string.format(
      '{"model":"multilingual-e5-large","input":"text to embed %%d"}', counter))
  elseif kind == 8 then
    return wrk.format("GET", "/api/v2/models", nil, nil)
  elseif kind == 9 then
    return wrk.format("GET", "/api/v3/models", nil, nil)
  end
  local words = string.rep("lorem ipsum ", (counter %% 1700) + 10)
  local body = string.format(
    '{"model":"alfred-4.2","max_tokens":8,"messages":[{"role":"user","content":"%%d %%s"}]}',
    counter, words)
  return wrk.format("POST", "/api/v2/chat/completions", nil, body)
end
""" % KEY  # noqa: UP031 -- Lua is full of % signs: %-formatting leaves them as written


def many_requests(base: str, total: int, step: int, point: Callable[[int], None],
                  rate_guess: float = 1000.0) -> int:
    """wrk with the mix above until about ``total`` requests are made; ``point(done)`` every ``step``."""
    done = 0
    next_point = step
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(LUA)
    try:
        while done < total:
            target = min(total, next_point) - done
            seconds = max(3, min(120, int(target / rate_guess) + 1))
            out = subprocess.run(
                ["wrk", "-t1", "-c32", f"-d{seconds}s", "--timeout", "10s", "-s", f.name, base],
                capture_output=True,
                text=True,
                timeout=seconds + 60,
            ).stdout
            made = int(re.search(r"(\d+) requests in", out).group(1))
            errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
            if errors:
                print(f"  !! {errors.group(1)} answers not 2xx", flush=True)
            rate_guess = max(100.0, made / seconds)
            done += made
            if done >= next_point or done >= total:
                point(done)
                next_point = (done // step + 1) * step
    finally:
        os.unlink(f.name)
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--large", type=int, default=200)
    parser.add_argument("--step", type=int, default=100_000, help="requests between two points of the curve")
    parser.add_argument(
        "--emulator-arg", action="append", default=[], help="a flag for the server (repeatable)"
    )
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server (repeatable)")
    parser.add_argument("--probe", help="have the server report what it holds to this file (memory_probe.py)")
    args = parser.parse_args(argv)
    env = dict(item.split("=", 1) for item in args.env)
    launcher: tuple[str, ...] = ("-m", "emulator")
    if args.probe:
        env["MEMORY_PROBE_OUT"] = str(Path(args.probe).resolve())
        launcher = (str(Path(__file__).resolve().parent / "memory_probe.py"),)
    process, base = start_emulator(*args.emulator_arg, launcher=launcher, env=env or None)
    sampler = Sampler(process.pid)
    sampler.start()
    curve: list[tuple[int, float]] = []

    def point(done: int) -> None:
        mb = rss_mb(process.pid)
        curve.append((done, round(mb, 1)))
        print(f"  {done:>9,} requests: {mb:6.1f} MB", flush=True)
        if args.probe:
            os.kill(process.pid, signal.SIGUSR1)

    try:
        start = rss_mb(process.pid)
        print(f"started: {start:.0f} MB")
        point(0)
        if args.large:
            began = time.monotonic()
            ok = large_requests(base, args.large)
            print(f"after {2 * args.large} large requests ({ok} answered < 500, "
                  f"{time.monotonic() - began:.0f} s):")
            point(2 * args.large)
        journal = httpx.get(base + "/_emulator/journal?limit=1", timeout=30)
        print(f"  GET /_emulator/journal?limit=1: {len(journal.content):,} bytes in "
              f"{journal.elapsed.total_seconds() * 1000:.1f} ms")
        began = time.monotonic()
        made = many_requests(base, args.requests, args.step,
                             lambda done: point(done + 2 * args.large))
        rate = made / (time.monotonic() - began)
        end = rss_mb(process.pid)
        began = time.monotonic()
        with httpx.stream("GET", base + "/_emulator/journal", timeout=120) as whole:
            size = sum(len(part) for part in whole.iter_bytes())
        print(
            f"after {made:,} more requests ({rate:,.0f} req/s): {end:.0f} MB; the whole journal: "
            f"{size / 1e6:.1f} MB streamed in {time.monotonic() - began:.2f} s"
        )
        peak = max(sampler.peak, end)
        print(f"peak: {peak:.0f} MB (documented ceiling {CEILING_MB} MB): "
              f"{'under' if peak <= CEILING_MB else 'OVER'}")
        print(json.dumps({"start_mb": round(start), "end_mb": round(end), "peak_mb": round(peak),
                          "requests": made + 2 * args.large, "curve": curve}))
    finally:
        sampler.stop.set()
        stop(process)
    return 0


if __name__ == "__main__":
    sys.exit(main())
