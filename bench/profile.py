"""Profile: where a request's time goes on each hot path, sampled by py-spy under wrk load.

    .venv/bin/python bench/profile.py [--seconds 8] [--only chat] [--out DIR] [--rate 250]

Starts ``paradigm-emulator serve`` (the real CLI, same uvicorn stack as bench/bench.py), loads one
case at a time with wrk (one thread, 32 connections) while ``py-spy record`` samples the server
process, and prints, per case, the functions that hold the most samples: by self time (the leaf
frame) and inclusive (anywhere on the stack, the emulator's own modules only). The collapsed stacks
are kept in ``--out`` (default: a temporary directory), one ``CASE.txt`` each, for flame-graph tools
(``flamegraph.pl``, speedscope) and for comparing the next change with this one.

Cases: fresh chat (a new body every request), fresh embeddings, models, a streamed answer
(256 tokens), a v3 turn (synchronous, generated). py-spy comes with the ``bench`` extra
(``pip install -e '.[bench]'``); it reads the process from outside, so the server runs unmodified.
Needs ``wrk`` on PATH and the right to ptrace the server (root, or ``kernel.yama.ptrace_scope=0``).
"""

from __future__ import annotations

import argparse
import collections
import json
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from launch import start_emulator  # noqa: E402

from bench import CHAT, EMBED, STREAM, lua_script  # noqa: E402

OWN = ("emulator/",)  # frames of the emulator's own code, for the inclusive table


def cases() -> list[tuple[str, str, str, dict | None, bool]]:
    turn = {"query": "Hello!"}  # a new thread and its first turn, generated, answered 200
    return [
        ("chat-fresh", "POST", "/api/v2/chat/completions", CHAT, True),
        ("embeddings-fresh", "POST", "/api/v2/embeddings", EMBED, True),
        ("models", "GET", "/api/v2/models", None, False),
        ("chat-stream", "POST", "/api/v2/chat/completions", STREAM, False),
        ("turn-fresh", "POST", "/api/v3/threads/turns", turn, True),
    ]


def summarize(collapsed: Path, top: int) -> str:
    """The functions holding most samples: self (leaf frame) and inclusive (the emulator's own)."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        own[_short(frames[-1])] += count
        for frame in set(frames):
            if any(part in frame for part in OWN):
                inclusive[_short(frame)] += count
    if not total:
        return "  (no samples)\n"
    lines = [f"  {total} samples", "  self time:"]
    lines += [f"    {100 * n / total:5.1f}%  {name}" for name, n in own.most_common(top)]
    lines.append("  inclusive, emulator code:")
    lines += [f"    {100 * n / total:5.1f}%  {name}" for name, n in inclusive.most_common(top)]
    return "\n".join(lines) + "\n"


def _short(frame: str) -> str:
    """``name (path/to/module.py:12)`` -> ``name (module.py:12)``, lines dropped for grouping."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    path, _, _line = where.rpartition(":")
    return f"{name} ({'/'.join(Path(path).parts[-2:])})" if path else name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8, help="load and sampling per case (default 8)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples a second (default 250)")
    parser.add_argument("--top", type=int, default=18, help="rows in each table (default 18)")
    parser.add_argument("--only", default=None, help="run only the cases whose name contains this")
    parser.add_argument("--out", default=None, help="where to keep the collapsed stacks")
    parser.add_argument("--emulator-arg", action="append", default=[],
                        help="extra flag for the emulator (repeatable)")
    args = parser.parse_args(argv)
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists() or shutil.which("wrk") is None:
        print("profile needs py-spy (pip install -e '.[bench]') and wrk on PATH", file=sys.stderr)
        return 2
    out = Path(args.out or tempfile.mkdtemp(prefix="emulator-profile-"))
    out.mkdir(parents=True, exist_ok=True)
    process, base = start_emulator(*args.emulator_arg)
    try:
        for name, method, path, body, vary in cases():
            if args.only and args.only not in name:
                continue
            script = out / f"{name}.lua"
            script.write_text(lua_script(method, body, vary))
            collapsed = out / f"{name}.txt"
            sampler = subprocess.Popen(
                [spy, "record", "--pid", str(process.pid), "--rate", str(args.rate), "--duration",
                 str(args.seconds), "--format", "raw", "--nonblocking", "--output", str(collapsed)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            load = subprocess.run(["wrk", "-t1", f"-c{args.connections}", f"-d{args.seconds}s",
                                   "--timeout", "5s", "-s", str(script), base + path],
                                  capture_output=True, text=True, timeout=args.seconds + 30).stdout
            sampler.wait(timeout=args.seconds + 30)
            rps = next((line.split()[-1] for line in load.splitlines() if "Requests/sec" in line), "?")
            print(f"{name}: {rps} req/s under the sampler ({collapsed})", flush=True)
            print(summarize(collapsed, args.top) if collapsed.exists() else "  (py-spy wrote nothing)\n",
                  flush=True)
        (out / "cases.json").write_text(json.dumps({"base": base, "seconds": args.seconds}))
        return 0
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


if __name__ == "__main__":
    sys.exit(main())
