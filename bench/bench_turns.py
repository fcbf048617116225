"""What a v3 turn costs: requests/s of a synchronous generated turn vs a non-streamed chat, and a 202's
latency.

    .venv/bin/python bench/bench_turns.py [--seconds 10] [--connections 32] [--polls 500] [--redis-url URL]

One `paradigm-emulator serve` in its own process (memory backend), loaded with wrk as in the
core benchmark (one thread, 32 connections), in the same run:

    chat      POST /api/v2/chat/completions, non-streamed, max_tokens 16
    turn      POST /api/v3/threads/turns, a generated turn without tools (no file in scope):
              a new thread and its first turn each time, answered 200 (--turn-ms 0)

Then ``background: true`` turns, one at a time from one client: the latency of their 202
(p50 and p95). The targets: turn >= 0.5 x chat; the 202 under 5 ms at p50. Without wrk
a small asyncio client stands in (it needs a core of its own, so its figures are lower).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from launch import start_emulator  # noqa: E402  (bench/ is the script's folder)
from load import post_rate  # noqa: E402

CHAT = ("/api/v2/chat/completions",
        {"model": "alfred-4.2", "messages": [{"role": "user", "content": "Hello!"}], "max_tokens": 16})
TURN = ("/api/v3/threads/turns", {"query": "Hello!"})
BACKGROUND = {"query": "Hello!", "background": True}


def accepted_latencies_ms(base: str, count: int) -> list[float]:
    """One client, one request at a time (keep-alive): the time to each background turn's 202."""
    import httpx

    times = []
    with httpx.Client(base_url=base, headers={"Authorization": "Bearer bench"}, timeout=10) as client:
        for number in range(count + 20):
            started = time.perf_counter()
            response = client.post("/api/v3/threads/turns", json=BACKGROUND)
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 202:
                raise RuntimeError(f"expected 202, got {response.status_code}: {response.text[:200]}")
            if number >= 20:  # the first ones warm the process up
                times.append(elapsed)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--polls", type=int, default=500, help="background turns timed for the 202 latency")
    parser.add_argument("--redis-url", help="run the emulator on this Redis (default: the memory backend)")
    args = parser.parse_args()
    process, base = start_emulator(*(["--redis-url", args.redis_url] if args.redis_url else []))
    try:
        post_rate(base, *CHAT, 1, args.connections)  # warm-up
        chat = post_rate(base, *CHAT, args.seconds, args.connections)
        turn = post_rate(base, *TURN, args.seconds, args.connections)
        latencies = accepted_latencies_ms(base, args.polls)
    finally:
        process.terminate()
        process.wait(timeout=10)
    p50 = statistics.median(latencies)
    p95 = statistics.quantiles(latencies, n=20)[-1]
    print(f"{'case':<44} {'requests/s':>11}")
    print(f"{'chat, non-streamed (max_tokens 16)':<44} {chat:>11,.0f}")
    print(f"{'turn, synchronous, generated, no tools':<44} {turn:>11,.0f}   {turn / chat:.2f} x chat")
    print(
        f"background turn: 202 in {p50:.2f} ms p50, {p95:.2f} ms p95 ({len(latencies)} requests, one client)"
    )
    print(f"(load: {'wrk -t1' if shutil.which('wrk') else 'asyncio httpx'}, -c{args.connections}, "
          f"{args.seconds} s each; state: {'redis' if args.redis_url else 'memory'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
