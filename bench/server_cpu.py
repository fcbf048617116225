"""The server's CPU time per request over real HTTP: user and system (the socket writes) apart.

    .venv/bin/python bench/server_cpu.py [--seconds 4] [--rounds 3] [--only chat] [--compare DIR]

wrk's requests/s on a shared machine measure the machine as much as the server; the CPU the server
process spends per request does not grow when other processes compete for the cores. This starts
``paradigm-emulator serve`` (the real CLI, as ``bench/bench.py`` does), loads each of bench.py's
cases with wrk, and divides the server's CPU time over the run (``/proc/PID/stat``: user, and system
for the kernel's share, the loopback TCP of every write) by the requests wrk completed. With
``--compare DIR`` the other checkout's emulator runs in turn with this one, round by round
(before/after interleaved); each figure is the median over ``--rounds``. Linux only; needs wrk.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from launch import start_emulator, stop  # noqa: E402

from bench import CASES, lua_script, wait_ready  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / TICKS, int(fields[12]) / TICKS


def load(url: str, method: str, body: dict | None, vary: bool, seconds: int, connections: int) -> int:
    """The requests wrk completed in ``seconds`` (every answer must be a 2xx)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(lua_script(method, body, vary))
    try:
        out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s",
                              "-s", f.name, url], capture_output=True, text=True, timeout=seconds + 30).stdout
    finally:
        os.unlink(f.name)
    found = re.search(r"(\d+) requests in", out)
    if found is None or "Non-2xx" in out:
        raise SystemExit(f"wrk failed on {url}:\n{out}")
    return int(found.group(1))


def measure(root: Path, cases: list, seconds: int, connections: int) -> dict[str, tuple[float, float]]:
    """-> case name: (user, system) CPU µs a request, one server for all the cases."""
    process, base = start_emulator(root=root)
    figures = {}
    try:
        wait_ready(f"{base}/api/v2/models")
        for name, method, path, body, vary in cases:
            load(base + path, method, body, vary, 1, connections)  # warm up
            user0, system0 = cpu_seconds(process.pid)
            done = load(base + path, method, body, vary, seconds, connections)
            user1, system1 = cpu_seconds(process.pid)
            figures[name] = (1e6 * (user1 - user0) / done, 1e6 * (system1 - system0) / done)
    finally:
        stop(process)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--only", default=None, help="run only the cases whose name contains this")
    parser.add_argument("--compare", default=None, metavar="DIR", help="another checkout, run in turn")
    args = parser.parse_args(argv)
    cases = [c for c in CASES if args.only is None or args.only in c[0]]
    roots = {"this": ROOT} | ({"other": Path(args.compare).resolve()} if args.compare else {})
    runs: dict[str, list[dict[str, tuple[float, float]]]] = {label: [] for label in roots}
    for _ in range(args.rounds):
        for label, root in roots.items():
            runs[label].append(measure(root, cases, args.seconds, args.connections))
    print(f"server CPU µs a request (user + system), median of {args.rounds} rounds, {args.seconds} s each")
    header = f"{'case':<30}" + "".join(
        f"{label + ' user':>12}{label + ' sys':>11}{label:>9}" for label in roots)
    print(header + ("   this/other" if args.compare else ""))
    for name, *_ in cases:
        row, totals = f"{name:<30}", []
        for label in roots:
            user = statistics.median(r[name][0] for r in runs[label])
            system = statistics.median(r[name][1] for r in runs[label])
            totals.append(statistics.median(sum(r[name]) for r in runs[label]))
            row += f"{user:>12.0f}{system:>11.0f}{totals[-1]:>9.0f}"
        print(row + (f"{totals[0] / totals[1]:>13.2f}" if args.compare else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
