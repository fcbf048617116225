"""Benchmark: the emulator against a bare Starlette app, same uvicorn stack, same loopback load.

    .venv/bin/python bench/bench.py [--seconds 10] [--connections 32]

Starts ``paradigm-emulator serve`` (the real CLI) and ``bench/bare_app.py`` (fixed bodies of the
same shape) under the same uvicorn settings (httptools, uvloop, no access log), loads each
endpoint with wrk (one thread, as in ../shared/reference/performance.md: the server needs the
other core), and prints requests/s, p50 and p99 latency, and the emulator/bare ratio. The bare
app is measured twice: encoding its body with ``json`` on every request ("bare"), and sending
bytes made once ("prebuilt", the stack's own ceiling); "ratio" is against the first, "/pre"
against the second.

A second column runs ``serve --workers 2 --redis-url ...`` against a redis-server of its own
(started on a free loopback port, no persistence, stopped at the end; ``--no-workers`` skips it),
with its ratio to one worker on the memory backend ("2w/1w").
``--compare DIR`` adds a column: the emulator of another checkout (``git worktree add DIR
COMMIT``), loaded in turn with this one, for a before/after comparison in one sitting.
Needs ``wrk`` on PATH (Debian: ``apt-get install wrk``), and ``redis-server`` for the second
column. Loopback only; every run is bounded.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from launch import start_emulator

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
KEY = "bench-key"
CHAT = {"model": "alfred-4.2", "messages": [{"role": "user", "content": "Hello!"}], "max_tokens": 16}
STREAM = {"model": "alfred-4.2", "messages": [{"role": "user", "content": "Tell me a story"}],
          "max_tokens": 256, "ignore_eos": True, "stream": True}
EMBED = {"model": "multilingual-e5-large", "input": "Text to embed"}
# A repeated body is answered from the emulator's memo (as a test suite's repeated requests are);
# the "new body" cases put a counter in every request, so that each one is generated afresh.
CASES = [
    ("chat", "POST", "/api/v2/chat/completions", CHAT, False),
    ("chat, every body new", "POST", "/api/v2/chat/completions", CHAT, True),
    ("chat stream (256 tokens)", "POST", "/api/v2/chat/completions", STREAM, False),
    ("embeddings", "POST", "/api/v2/embeddings", EMBED, False),
    ("embeddings, every body new", "POST", "/api/v2/embeddings", EMBED, True),
    ("models", "GET", "/api/v2/models", None, False),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, deadline_s: float = 15.0) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            httpx.get(url, headers={"Authorization": f"Bearer {KEY}"}, timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise SystemExit(f"server at {url} did not come up within {deadline_s} s")


def start_bare(port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [
            PY,
            "-m",
            "uvicorn",
            "bench.bare_app:app",
            "--port",
            str(port),
            "--http",
            "httptools",
            "--loop",
            "uvloop",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
    )


def lua_script(method: str, body: dict | None, vary: bool = False) -> str:
    lines = [f'wrk.method = "{method}"', f'wrk.headers["Authorization"] = "Bearer {KEY}"']
    if body is not None:
        lines.append('wrk.headers["Content-Type"] = "application/json"')
        lines.append(f"wrk.body = {json.dumps(json.dumps(body))}")
    if vary:  # every request its own text: "Hello!" -> "Hello 1!", "Hello 2!" ...
        template = json.dumps(body).replace("%", "%%").replace("Hello!", "Hello %d!").replace(
            "Text to embed", "Text to embed %d")
        lines += [
            "counter = 0",
            "request = function()",
            "  counter = counter + 1",
            f"  return wrk.format(nil, nil, nil, string.format({json.dumps(template)}, counter))",
            "end",
        ]
    return "\n".join(lines) + "\n"


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    number, unit = re.match(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * _UNITS[unit]


def run_wrk(url: str, method: str, body: dict | None, seconds: int, connections: int,
            vary: bool = False) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(lua_script(method, body, vary))
    try:
        out = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{seconds}s",
                "--latency",
                "--timeout",
                "5s",
                "-s",
                f.name,
                url,
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 30,
        ).stdout
    finally:
        os.unlink(f.name)
    if "Requests/sec" not in out or "50%" not in out:
        raise SystemExit(f"wrk gave no figures for {url}:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    served = int(re.search(r"(\d+) requests in", out).group(1))
    return {"rps": rps, "p50": p50, "p99": p99, "errors": int(errors.group(1)) if errors else 0,
            "requests": served}


def start_redis() -> tuple[subprocess.Popen, str]:
    """A redis-server of the benchmark's own: a free loopback port, no persistence."""
    port = free_port()
    process = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no"], stdout=subprocess.DEVNULL)
    end = time.monotonic() + 10
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("redis-server did not start within 10 s")


def check_same_work(emulator: str, bare: str) -> None:
    """The stream case is only fair if both send the same number of events."""
    counts = []
    for base in (emulator, bare):
        with httpx.stream("POST", base + "/api/v2/chat/completions", json=STREAM,
                          headers={"Authorization": f"Bearer {KEY}"}, timeout=10) as r:
            counts.append(sum(1 for line in r.iter_lines() if line.startswith("data: ")))
    if counts[0] != counts[1]:
        raise SystemExit(f"stream event counts differ: emulator {counts[0]}, bare {counts[1]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="load per endpoint and server (default 10)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--only", default=None, help="run only the cases whose name contains this")
    parser.add_argument(
        "--emulator-arg",
        action="append",
        default=[],
        help="extra flag for the emulator (repeatable), e.g. --emulator-arg=--fixtures-dir=DIR",
    )
    parser.add_argument("--compare", default=None, metavar="DIR",
                        help="also run the emulator of the checkout in DIR (its column: 'before')")
    parser.add_argument("--no-workers", action="store_true",
                        help="skip the --workers 2 --redis-url column")
    args = parser.parse_args(argv)
    workers_column = not args.no_workers and shutil.which("redis-server") is not None
    if shutil.which("wrk") is None:
        print("bench needs wrk on PATH (Debian/Ubuntu: apt-get install wrk)", file=sys.stderr)
        return 2
    bare_port = free_port()
    emulator_process, emulator = start_emulator(*args.emulator_arg)
    procs = [emulator_process, start_bare(bare_port)]
    before = None
    if args.compare:
        before_process, before = start_emulator(*args.emulator_arg, root=Path(args.compare).resolve())
        procs.append(before_process)
    workers = None
    if workers_column:
        redis_process, redis_url = start_redis()
        workers_process, workers = start_emulator(*args.emulator_arg, "--workers", "2",
                                                  "--redis-url", redis_url)
        procs += [workers_process, redis_process]
    try:
        bare = f"http://127.0.0.1:{bare_port}"
        wait_ready(bare + "/api/v2/models")
        if workers is not None:
            wait_ready(workers + "/api/v2/models")
        check_same_work(emulator, bare)
        print(f"{args.seconds} s per run, wrk -t1 -c{args.connections}, loopback; "
              f"uvicorn httptools + uvloop, no access log, every server\n")
        extra = f"   {'2w+redis req/s':>15}{'p50 ms':>8}{'2w/1w':>7}" if workers else ""
        if before is not None:
            extra += f"   {'before req/s':>13}{'after/before':>13}"
        header = (f"{'endpoint':<28}{'emulator req/s':>15}{'p50 ms':>8}{'p99 ms':>8}   {'bare req/s':>11}"
                  f"{'p50 ms':>8}{'p99 ms':>8}   {'ratio':>6}   {'prebuilt':>9}{'/pre':>6}{extra}")
        print(header)
        print("-" * len(header))
        worst = None
        for name, method, path, body, vary in CASES:
            if args.only and args.only not in name:
                continue
            e = run_wrk(emulator + path, method, body, args.seconds, args.connections, vary)
            b = run_wrk(bare + path, method, body, args.seconds, args.connections, vary)
            p = run_wrk(bare + "/prebuilt" + path, method, body, args.seconds, args.connections, vary)
            ratio = e["rps"] / b["rps"] if b["rps"] else 0.0
            to_prebuilt = e["rps"] / p["rps"] if p["rps"] else 0.0
            worst = ratio if worst is None else min(worst, ratio)
            flag = "" if not e["errors"] else f"  ({e['errors']} non-2xx!)"
            column = ""
            if workers is not None:
                w = run_wrk(workers + path, method, body, args.seconds, args.connections, vary)
                gain = w["rps"] / e["rps"] if e["rps"] else 0.0
                column = f"   {w['rps']:>15,.0f}{w['p50']:>8.2f}{gain:>7.2f}"
                if w["errors"]:
                    flag += f"  (2 workers: {w['errors']} non-2xx!)"
            if before is not None:
                o = run_wrk(before + path, method, body, args.seconds, args.connections, vary)
                column += f"   {o['rps']:>13,.0f}{e['rps'] / o['rps'] if o['rps'] else 0.0:>13.2f}"
            print(f"{name:<28}{e['rps']:>15,.0f}{e['p50']:>8.2f}{e['p99']:>8.2f}   "
                  f"{b['rps']:>11,.0f}{b['p50']:>8.2f}{b['p99']:>8.2f}   {ratio:>6.2f}   "
                  f"{p['rps']:>9,.0f}{to_prebuilt:>6.2f}{column}{flag}",
                  flush=True)
        print(f"\nlowest ratio emulator/bare: {worst:.2f} (target >= 0.5)")
        return 0
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGINT)
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    sys.exit(main())
