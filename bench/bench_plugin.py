"""Benchmark of the pytest plugin: what a user's suite pays for a real emulator.

    .venv/bin/python bench/bench_plugin.py [--tests 1000] [--repeat 5] [--xdist]

Prints three figures (their targets in brackets):

1. session server ready: a fresh interpreter imports the server and starts it on a free
   port [< 0.5 s for the start; the import is shown apart, it is paid once per process];
2. per-test reset: ``ParadigmEmulator.reset()`` after a test that scripted three rules and
   made three calls [< 1 ms];
3. a generated suite of N tests, each scripting a reply and making one chat call through the
   ``paradigm_client`` fixture, run by ``pytest`` in a subprocess [1,000 tests < 5 s]. Shown
   with this venv's other plugins autoloaded (as a user's suite has them) and without;
4. where that suite's time goes, layer by layer: the same N tests with pytest alone, then with the
   handle (the session server and a reset per test), the client fixture, the scripted rule, and the
   chat call. The handle and the rule are the plugin's own overhead; the client fixture (openai's
   import and an ``OpenAI`` per test) and the call (the SDK, httpx, and the emulator answering it)
   are what any client pays.

Loopback only, every run bounded by a timeout; nothing is written outside a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
TIMEOUT_S = 300

READY_PROBE = """
import time
started = time.perf_counter()
from emulator.server import EmulatorServer
imported = time.perf_counter()
server = EmulatorServer().start()
ready = time.perf_counter()
server.stop()
print(imported - started, ready - imported)
"""

SUITE_FILE = '''
import pytest

@pytest.mark.parametrize("n", range({count}))
def test_one_chat_call(paradigm_emulator, paradigm_client, n):
    paradigm_emulator.on_chat(contains=f"question {{n}}").reply(f"answer {{n}}")
    reply = paradigm_client.chat.completions.create(
        model="alfred-4.2", messages=[{{"role": "user", "content": f"question {{n}}"}}])
    assert reply.choices[0].message.content == f"answer {{n}}"
'''
# The layers of that suite: each test does what the one above it does, and one thing more.
LAYERS = (
    ("pytest alone", "n", "assert n >= 0"),
    ("+ the handle (session server, reset per test)", "paradigm_emulator, n",
     "assert paradigm_emulator.base_url"),
    ("+ the client fixture", "paradigm_emulator, paradigm_client, n", "assert paradigm_client.base_url"),
    ("+ one scripted rule", "paradigm_emulator, paradigm_client, n",
     'paradigm_emulator.on_chat(contains=f"question {n}").reply(f"answer {n}")'),
)
LAYER_FILE = '''
import pytest

@pytest.mark.parametrize("n", range({count}))
def test_layer({arguments}):
    {body}
'''


def measure_ready(repeat: int) -> tuple[list[float], list[float]]:
    imports, starts = [], []
    for _ in range(repeat):
        out = subprocess.run([PY, "-c", READY_PROBE], cwd=ROOT, capture_output=True, text=True,
                             timeout=TIMEOUT_S, check=True).stdout.split()
        imports.append(float(out[0]))
        starts.append(float(out[1]))
    return imports, starts


def measure_reset(rounds: int) -> list[float]:
    from emulator.server import EmulatorServer
    from emulator.testing.handle import ParadigmEmulator

    costs = []
    with EmulatorServer() as server:
        handle = ParadigmEmulator(server)
        client = handle.client()
        for _ in range(rounds):
            handle.on_chat(contains="weather").reply_tool_call("get_weather", {"city": "Paris"}).then_reply(
                "Sunny"
            )
            handle.on_chat(contains="limit").fail(429, retry_after=1).then_reply("ok")
            handle.on_embeddings().reply_embeddings([[0.0, 1.0]])
            for text in ("weather?", "hello", "again"):
                client.chat.completions.create(
                    model="alfred-4.2", messages=[{"role": "user", "content": text}]
                )
            assert handle.call_count == 3
            started = time.perf_counter()
            handle.reset()
            costs.append(time.perf_counter() - started)
        handle.close()
    return costs


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_suite(count: int, autoload: bool, xdist: bool, source: str | None = None) -> tuple[float, str, float]:
    """-> (wall seconds, pytest's summary line, CPU seconds of the pytest process: its tests, the
    plugin and the session server's thread; what the wall time is on an idle machine, as
    one process holds one core at a time)."""
    with tempfile.TemporaryDirectory(prefix="paradigm-bench-") as folder:
        source = source or textwrap.dedent(SUITE_FILE.format(count=count))
        Path(folder, "test_generated.py").write_text(source)
        Path(folder, "pytest.ini").write_text("[pytest]\nfilterwarnings = error\n")
        env = dict(os.environ)
        args = [PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "emulator.plugin"]
        if not autoload:
            env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
            if xdist:
                args += ["-p", "xdist"]
        if xdist:
            args += ["-n", "2"]
        started, cpu = time.perf_counter(), _children_cpu()
        done = subprocess.run(args, cwd=folder, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
        wall, cpu = time.perf_counter() - started, _children_cpu() - cpu
        summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-500:]
        if done.returncode != 0:
            raise SystemExit(f"the generated suite failed:\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}")
        return wall, summary, cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=1000, help="size of the generated suite (default 1000)")
    parser.add_argument(
        "--repeat", type=int, default=5, help="fresh interpreters for the ready time (default 5)"
    )
    parser.add_argument("--rounds", type=int, default=300, help="resets measured (default 300)")
    parser.add_argument("--xdist", action="store_true", help="also run the suite with -n 2")
    args = parser.parse_args(argv)

    imports, starts = measure_ready(args.repeat)
    print(f"session server ready: start {statistics.median(starts) * 1000:.0f} ms median "
          f"(max {max(starts) * 1000:.0f} ms) after importing emulator.server in "
          f"{statistics.median(imports) * 1000:.0f} ms, over {args.repeat} fresh interpreters")

    costs = sorted(measure_reset(args.rounds))
    p99 = costs[min(len(costs) - 1, int(len(costs) * 0.99))]
    print(f"per-test reset: {statistics.median(costs) * 1e6:.0f} us median, {p99 * 1e6:.0f} us p99, "
          f"max {costs[-1] * 1e6:.0f} us over {len(costs)} resets (3 rules, 3 calls each)")

    full = (0.0, 0.0)  # the whole suite without other plugins: the last layer
    runs = [(True, False), (False, False)] + ([(True, True), (False, True)] if args.xdist else [])
    for autoload, xdist in runs:
        wall, summary, cpu = run_suite(args.tests, autoload, xdist)
        label = ("other plugins autoloaded" if autoload else "PYTEST_DISABLE_PLUGIN_AUTOLOAD=1") + (
            ", -n 2" if xdist else "")
        print(f"{args.tests} tests, one chat call each ({label}): {wall:.2f} s wall, {cpu:.2f} s CPU, "
              f"pytest says: {summary}")
        if not autoload and not xdist:
            full = (wall, cpu)

    print(f"where it goes, {args.tests} tests (PYTEST_DISABLE_PLUGIN_AUTOLOAD=1; CPU is what an idle "
          "machine's wall time would be, the wall time here is the machine's load too):")
    figures = []
    for label, arguments, body in LAYERS:
        wall, _, cpu = run_suite(args.tests, False, False,
                                 LAYER_FILE.format(count=args.tests, arguments=arguments, body=body))
        figures.append((label, wall, cpu))
    figures.append(("+ one chat call (the whole suite)", *full))
    previous = 0.0
    for label, wall, cpu in figures:
        print(f"  {label:48s} {wall:6.2f} s wall {cpu:6.2f} s CPU  (+{cpu - previous:5.2f} s CPU)")
        previous = cpu
    return 0


if __name__ == "__main__":
    sys.exit(main())
