"""Benchmark: what users, rate limits and metrics cost a request, and what a metrics scrape costs.

    .venv/bin/python bench/bench_team.py [--seconds 10] [--connections 32] [--rounds 3]
                                         [--compare DIR] [--skip-http] [--skip-scrape]

1. Non-streamed chat (every body new, so each one is generated) loaded with wrk, one thread, on
   three servers in turn: the pipeline without the team stages (``team_off.py``: the baseline),
   ``serve`` as shipped (identify + metrics, no limit), and ``serve --rpm 10^9 --tpm 10^12``
   (every call admitted through a window, headers, token correction). Prints requests/s, p50,
   p99, the server's CPU time per request (its process and children, from ``/proc``: what other
   load on the machine inflates least) and each one's ratio to the baseline (the goal: within
   10 %). ``--compare DIR`` runs another checkout's servers in the same sitting, ``--rounds``
   interleaves the runs and prints medians.
2. A metrics scrape after 1,000,000 requests: the counters are *simulated* (a million requests
   spread over every operation of the specs and five statuses, each with its latency observed),
   then ``GET /_emulator/metrics`` is rendered 50 times: one worker's registry, and the
   multi-process mode with two worker processes' files (as ``serve --workers 2``). Prints the
   median and worst scrape time (the goal: under 20 ms).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent.parent))

from launch import start_emulator  # noqa: E402

from bench import run_wrk, wait_ready  # noqa: E402  (bench/ is the script's folder)

ROOT = Path(__file__).resolve().parent.parent
CHAT = {"model": "alfred-4.2", "messages": [{"role": "user", "content": "Hello!"}], "max_tokens": 16}
REQUESTS = 1_000_000
STATUSES = ("200", "400", "401", "404", "429")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process and its descendants (Linux ``/proc``)."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    family, grew = {pid}, True
    while grew:
        more = {child for child, parent in parents.items() if parent in family} - family
        family |= more
        grew = bool(more)
    return sum(times.get(member, 0.0) for member in family)


def load(base: str, pid: int, seconds: int, connections: int) -> dict[str, float]:
    """wrk's figures, and the server's CPU time per request served (which the machine's other
    load inflates far less than it does requests/s)."""
    url = base + "/api/v2/chat/completions"
    run_wrk(url, "POST", CHAT, 2, connections, vary=True)  # warm-up
    before = cpu_seconds(pid)
    row = run_wrk(url, "POST", CHAT, seconds, connections, vary=True)
    row["cpu_us"] = 1e6 * (cpu_seconds(pid) - before) / max(1, row["requests"])
    return row


LIMITED = ("--rpm", "1000000000", "--tpm", "1000000000000")
VARIANTS = ("without team stages", "serve (identify, metrics)", "serve --rpm/--tpm (limits too)")


def serve(variant: str, root: Path, seconds: int, connections: int) -> dict[str, float]:
    if variant == VARIANTS[0]:
        port = free_port()
        process = subprocess.Popen([sys.executable, str(root / "bench" / "team_off.py"), str(port)], cwd=root)
        base = f"http://127.0.0.1:{port}"
    else:
        process, base = start_emulator(*(LIMITED if variant == VARIANTS[2] else ()), root=root)
    try:
        wait_ready(base + "/api/v2/models")
        return load(base, process.pid, seconds, connections)
    finally:
        process.terminate()
        process.wait(10)


def http_part(seconds: int, connections: int, roots: list[Path], rounds: int) -> None:
    """Every variant of every checkout, interleaved, ``rounds`` times; the median of each."""
    runs: dict[tuple[Path, str], list[dict[str, float]]] = {}
    for _ in range(rounds):
        for variant in VARIANTS:
            for root in roots:
                runs.setdefault((root, variant), []).append(serve(variant, root, seconds, connections))
    print(f"non-streamed chat, every body new ({rounds} rounds, medians)")
    print(f"{'':40} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>6} {'CPU us/req':>11} {'ratio':>6}")
    for root in roots:
        if len(roots) > 1:
            print(f"{root}")
        first = runs[(root, VARIANTS[0])]
        rps0 = statistics.median(r["rps"] for r in first)
        cpu0 = statistics.median(r["cpu_us"] for r in first)
        for variant in VARIANTS:
            rows = runs[(root, variant)]
            rps = statistics.median(r["rps"] for r in rows)
            cpu = statistics.median(r["cpu_us"] for r in rows)
            errors = sum(int(r["errors"]) for r in rows)
            print(f"{variant:40} {rps:9.0f} {statistics.median(r['p50'] for r in rows):8.2f} "
                  f"{statistics.median(r['p99'] for r in rows):8.2f} {rps / rps0:6.2f} {cpu:11.1f} "
                  f"{cpu0 / cpu:6.2f}" + (f"  ({errors} non-2xx)" if errors else ""))


def _operations() -> list[str]:
    from emulator.config import DEFAULT_SPEC_DIR
    from emulator.spec import load_specs

    return [op.operation_id for spec in load_specs(DEFAULT_SPEC_DIR) for op in spec.operations]


def populate(share: int) -> object:
    """``share`` simulated requests into a Metrics, spread over every operation and five statuses."""
    from emulator.metrics import Metrics

    metrics = Metrics(frozenset(), lambda: 0)
    operations = _operations()
    pairs = [(op, status) for op in operations for status in STATUSES]
    each, rest = divmod(share, len(pairs))
    for number, (op, status) in enumerate(pairs):
        count = each + (1 if number < rest else 0)
        shown = min(count, 200)
        for sample in range(shown):  # every bucket gets its share; the sum and count follow
            metrics.answered.observe(op, int(status), 0.0005 * (1 + sample % 40))
        if count > shown:
            metrics.answered.observe(op, int(status), 0.0005, count - shown)
        metrics.streams.labels("complete").inc(count // 10)
    metrics.throttled.labels(operations[0], "requests").inc(share // 100)
    return metrics


def _child(share: int) -> None:
    populate(share)


def timed(render) -> tuple[float, float, int]:  # type: ignore[no-untyped-def]
    times, size = [], 0
    for _ in range(50):
        start = time.perf_counter()
        size = len(render())
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), max(times), size


def scrape_part() -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    metrics = populate(REQUESTS)
    one = timed(lambda: generate_latest(metrics.registry))  # type: ignore[attr-defined]
    folder = tempfile.mkdtemp(prefix="bench-metrics-")
    try:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
        context = multiprocessing.get_context("spawn")  # each worker imports prometheus_client in the mode
        workers = [context.Process(target=_child, args=(REQUESTS // 2,)) for _ in range(2)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(120)
        from prometheus_client.multiprocess import MultiProcessCollector

        def render() -> bytes:
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=folder)
            return generate_latest(registry)

        two = timed(render)
    finally:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        shutil.rmtree(folder, ignore_errors=True)
    print(f"\nmetrics scrape after {REQUESTS:,} requests (simulated)   median ms   worst ms   bytes")
    for label, (median, worst, size) in (("one worker", one), ("two workers (multiprocess files)", two)):
        print(f"{label:44} {median:9.2f} {worst:10.2f} {size:7}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=1, help="runs of each server, interleaved (median)")
    parser.add_argument("--compare", type=Path, action="append", default=[],
                        help="another checkout measured in the same sitting (repeatable)")
    parser.add_argument("--skip-http", action="store_true", help="only the scrape (no wrk needed)")
    parser.add_argument("--skip-scrape", action="store_true", help="only the HTTP part")
    args = parser.parse_args()
    if not args.skip_http:
        if shutil.which("wrk") is None:
            print("wrk is not on PATH (apt-get install wrk): the HTTP part is skipped", file=sys.stderr)
        else:
            roots = [ROOT, *(path.resolve() for path in args.compare)]
            http_part(args.seconds, args.connections, roots, args.rounds)
    if not args.skip_scrape:
        scrape_part()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
