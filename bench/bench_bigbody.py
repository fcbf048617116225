"""How long oversized inputs take to be refused, and how long a health check waits meanwhile.

    .venv/bin/python bench/bench_bigbody.py [--rounds 5] [--root OTHER_CHECKOUT]

Three requests over a model's context, each sent to `paradigm-emulator serve` in its own process
(``--max-body-mb 30``): a 24 MB chat prompt, ten 2 MB embedding inputs, 2,048 embedding inputs of
2,000 characters. While each runs, a second connection asks ``/_emulator/health`` over and over.
Per case: the big request's time to its 400 (median and worst of the rounds) and the slowest health
answer seen while it ran (median and worst); the targets are < 0.5 s and < 50 ms. Then, in-process,
the body parse alone: ``json.loads``, ``orjson.loads`` and ``json_reader.parse_json`` (which, unlike
the two, pauses between pieces: its figure is the work in all), and the longest the event loop
waits for a turn while ``read_json`` reads the body.
A first row probes health with no big request, for what the machine's load alone costs.
``--root`` runs another checkout's emulator (a before/after comparison).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from launch import start_emulator, stop  # noqa: E402  (bench/ is the script's folder)
from probing import while_probing  # noqa: E402

from emulator.json_reader import parse_json, read_json  # noqa: E402

WORDS = "the quick brown fox jumps over a lazy dog, 12345 times! "
HEADERS = {"Authorization": "Bearer bench", "Content-Type": "application/json"}


def text(chars: int) -> str:
    return (WORDS * (chars // len(WORDS) + 1))[:chars]


CASES: dict[str, tuple[str, Callable[[], dict[str, Any]]]] = {
    "chat 24 MB": ("/chat/completions", lambda: {
        "model": "alfred-4.2", "messages": [{"role": "user", "content": text(24_000_000)}]}),
    "embeddings 10 x 2 MB": ("/embeddings", lambda: {
        "model": "multilingual-e5-large", "input": [text(2_000_000)] * 10}),
    "embeddings 2048 x 2000": ("/embeddings", lambda: {
        "model": "multilingual-e5-large", "input": ["a " * 1000] * 2048}),
}


def one_round(base: str, path: str, raw: bytes) -> tuple[float, float, int]:
    """-> (the big request's seconds, the slowest health answer in s while it ran, health answers).
    No path: 0.5 s with no big request, what the machine's load alone costs a health check."""
    def big() -> None:
        if not path:
            time.sleep(0.5)
            return
        with httpx.Client(timeout=60.0) as client:
            response = client.post(base + "/api/v2" + path, content=raw, headers=HEADERS)
        if response.status_code != 400:
            raise SystemExit(f"expected a 400, got {response.status_code}: {response.text[:200]}")

    _, seconds, latencies = while_probing(big, base + "/_emulator/health")
    return seconds, max(latencies, default=0.0), len(latencies)


def parse_alone(raw: bytes, rounds: int) -> tuple[float, float, float]:
    """-> (ms of json.loads, of orjson.loads, of json_reader.parse_json), the best of ``rounds``."""
    def best(parse: Callable[[], Any]) -> float:
        times = []
        for _ in range(rounds):
            began = time.perf_counter()
            parse()
            times.append(time.perf_counter() - began)
        return min(times) * 1000

    return (best(lambda: json.loads(raw.decode("utf-8"))), best(lambda: orjson.loads(raw)),
            best(lambda: parse_json(raw)))


def longest_hold(raw: bytes, rounds: int) -> float:
    """-> ms: the longest the event loop waited for its next turn while ``read_json`` read ``raw``
    (the best of ``rounds``)."""
    async def once() -> float:
        reading = asyncio.ensure_future(read_json(raw))
        longest, last = 0.0, time.perf_counter()
        while not reading.done():
            await asyncio.sleep(0)
            now = time.perf_counter()
            longest, last = max(longest, now - last), now
        reading.result()
        return longest

    return min(asyncio.run(once()) for _ in range(rounds)) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout whose emulator runs")
    args = parser.parse_args()
    bodies = {name: (path, json.dumps(make()).encode()) for name, (path, make) in CASES.items()}
    process, base = start_emulator("--max-body-mb", "30", root=args.root)
    try:
        httpx.post(base + "/api/v2/embeddings", headers=HEADERS,
                   json={"model": "multilingual-e5-large", "input": "warm"}).raise_for_status()
        print(f"{'case':24} {'refused in s (med/max)':>24} {'health ms (med/max)':>21} {'probes':>7}")
        for name, (path, raw) in {"(none: the load alone)": ("", b""), **bodies}.items():
            runs = [one_round(base, path, raw) for _ in range(args.rounds)]
            took, health = [r[0] for r in runs], [r[1] * 1000 for r in runs]
            print(f"{name:24} {statistics.median(took):14.3f} / {max(took):6.3f} "
                  f"{statistics.median(health):12.1f} / {max(health):6.1f} {sum(r[2] for r in runs):7}")
    finally:
        stop(process)
    print(f"\n{'body parse alone':24} {'json.loads ms':>14} {'orjson ms':>10} {'parse_json ms':>14} "
          f"{'longest hold ms':>16}")
    for name, (_, raw) in bodies.items():
        plain, fast, ours = parse_alone(raw, args.rounds)
        print(f"{name:24} {plain:14.1f} {fast:10.1f} {ours:14.1f} {longest_hold(raw, args.rounds):16.1f}")


if __name__ == "__main__":
    main()
