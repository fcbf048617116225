"""A request's fixture regexes under one time budget: how long it takes, and how long a health
check waits meanwhile.

    .venv/bin/python bench/bench_regex_budget.py [--rounds 5] [--fixtures 200] [--messages 20]

``paradigm-emulator serve`` in its own process gets ``--fixtures`` runtime fixtures whose
``any_message`` regex backtracks exponentially (``^(a|aa)+$`` against ``"a" * 40 + "b"``), then a
chat request of ``--messages`` such messages, while a second connection asks
``/_emulator/health`` over and over. Per round: the request's time and the slowest health answer
seen while it ran; printed as median and worst of the rounds. The targets: the request < 1 s and
health < 50 ms (without the budget: 119.6 s, and health waiting as long).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.launch import start_emulator, stop  # noqa: E402
from bench.probing import while_probing  # noqa: E402

KEY = "bench-key"
TEXT = "a" * 40 + "b"


def one_round(root: str, messages: int) -> tuple[float, float]:
    """-> (the chat's seconds, the slowest health answer in s while it ran)."""
    body = {"model": "alfred-4.2", "messages": [{"role": "user", "content": TEXT}] * messages}

    def chat() -> None:
        httpx.post(root + "/api/v2/chat/completions", json=body, timeout=300,
                   headers={"Authorization": f"Bearer {KEY}"}).raise_for_status()

    _, seconds, latencies = while_probing(chat, root + "/_emulator/health")
    return seconds, max(latencies, default=0.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--fixtures", type=int, default=200)
    parser.add_argument("--messages", type=int, default=20)
    args = parser.parse_args()
    process, root = start_emulator()
    try:
        fixtures = [{"name": f"backtracks-{i}", "match": {"any_message": {"regex": "^(a|aa)+$"}},
                     "response": {"content": "matched"}} for i in range(args.fixtures)]
        httpx.post(root + "/_emulator/fixtures", json=fixtures, timeout=60).raise_for_status()
        one_round(root, 1)  # warms the worker thread the matching runs on
        rounds = [one_round(root, args.messages) for _ in range(args.rounds)]
    finally:
        stop(process)
    seconds, health = [r[0] for r in rounds], [r[1] * 1000 for r in rounds]
    print(f"{args.fixtures} backtracking fixtures, {args.messages} messages, {args.rounds} rounds")
    print(f"request s (med/max)   {statistics.median(seconds):6.3f} / {max(seconds):6.3f}   (target < 1 s)")
    print(f"health ms (med/max)   {statistics.median(health):6.1f} / {max(health):6.1f}   (target < 50 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
