"""What 1,000 loaded fixtures cost a request: requests/s of a non-streamed chat, and µs per match.

    .venv/bin/python bench/bench_fixtures.py [--seconds 10] [--connections 32]

Three runs against `paradigm-emulator serve` in its own process, loaded with wrk as in
the core benchmark (one thread, 32 connections, the same chat body): no fixtures; 1,000
fixtures that the request matches none of (every one is tried: the worst case); 1,000
fixtures where the request matches the last. Without wrk, a small asyncio client stands
in (it needs a core of its own, so its figures are lower). Then the matching alone,
in-process: microseconds per ``scripts.match`` for the same three cases.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from launch import start_emulator  # noqa: E402  (bench/ is the script's folder)
from load import post_rate  # noqa: E402

BODY = {"model": "alfred-4.2", "messages": [{"role": "user", "content": "Hello!"}], "max_tokens": 16}
LAST = {"model": "alfred-4.2", "messages": [{"role": "user", "content": "question [q999]"}], "max_tokens": 16}
COUNT = 1000


def write_fixtures(folder: Path) -> None:
    """1,000 fixtures, each looking for its own tag: only the last one can match "[q999]"."""
    lines = ["fixtures:"]
    for number in range(COUNT):
        lines += [f"  - name: q{number}",
                  f"    match: {{operation: chat, last_user_message: {{contains: '[q{number}]'}}}}",
                  f"    response: {{content: 'Scripted answer {number}.'}}"]
    (folder / "many.yaml").write_text("\n".join(lines) + "\n")


def requests_per_second(fixtures_dir: Path | None, body: dict, seconds: int, connections: int) -> float:
    process, base = start_emulator(*(["--fixtures-dir", str(fixtures_dir)] if fixtures_dir else []))
    try:
        return post_rate(base, "/api/v2/chat/completions", body, seconds, connections)
    finally:
        process.terminate()
        process.wait(timeout=10)


def match_cost_us(fixtures_dir: Path | None, body: dict, rounds: int = 2000) -> float:
    from emulator.app import create_app
    from emulator.config import Settings

    emulator = create_app(Settings(fixtures_dir=fixtures_dir)).state.emulator
    operation = next(op for op in emulator.operations if op.operation_id == "api_v2_chat_completions_create")
    request = SimpleNamespace(method="POST", url=SimpleNamespace(path=operation.path))
    raw = json.dumps(body).encode()

    async def run() -> float:
        start_ = time.perf_counter()
        for _ in range(rounds):
            call = SimpleNamespace(operation=operation, body=body, raw_body=raw, headers={}, request=request,
                                   fixture=None, user=None)
            await emulator.scripts.match(call)
        return (time.perf_counter() - start_) / rounds * 1e6

    return asyncio.run(run())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        fixtures = Path(folder)
        write_fixtures(fixtures)
        cases = [("no fixtures", None, BODY), (f"{COUNT} fixtures, none matches", fixtures, BODY),
                 (f"{COUNT} fixtures, the last matches", fixtures, LAST)]
        print(f"{'case':<36} {'requests/s':>11} {'match µs':>9}")
        for label, folder_, body in cases:
            rate = requests_per_second(folder_, body, args.seconds, args.connections)
            cost = match_cost_us(folder_, body)
            print(f"{label:<36} {rate:>11,.0f} {cost:>9.1f}", flush=True)
    print(f"(load: {'wrk -t1' if shutil.which('wrk') else 'asyncio httpx'}, -c{args.connections}, "
          f"{args.seconds} s each; body {json.dumps(BODY)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
