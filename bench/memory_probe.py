"""A server process that tells what its memory holds: ``paradigm-emulator`` with a SIGUSR1 report.

    python bench/memory_probe.py serve --port 0 ...   (what bench_memory.py --probe runs)

On SIGUSR1 it appends to ``$MEMORY_PROBE_OUT`` (a JSON line): the resident size, the live objects
counted by type (the 25 most numerous), the bytes the journal and the memo count against their
budgets, the tracemalloc top lines when ``PYTHONTRACEMALLOC`` is set (diffed against the previous
report), and the resident size again after glibc's ``malloc_trim(0)``: what the trim gives back is
freed memory the allocator kept (fragmentation), what stays is held (retention).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import json
import os
import re
import signal
import sys
import tempfile
import tracemalloc
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

_previous: list[tracemalloc.Snapshot] = []


def rss_mb() -> float:
    text = Path("/proc/self/status").read_text()
    found = re.search(r"VmRSS:\s+(\d+) kB", text)
    return int(found.group(1)) / 1024 if found else 0.0


def _budgets() -> dict[str, Any]:
    """The journal's and the memo's counted bytes, found among the live objects."""
    from emulator.memo import AnswerMemo
    from emulator.state.memory import MemoryBackend

    found: dict[str, Any] = {}
    for obj in gc.get_objects():
        if isinstance(obj, AnswerMemo):
            found["memo_bytes"], found["memo_entries"] = obj.size, len(obj)
        elif isinstance(obj, MemoryBackend):
            found["logs"] = {name: [len(log), obj._log_size.get(name, 0)] for name, log in obj._logs.items()}
    return found


def _arenas() -> dict[str, int]:
    """pymalloc's arena figures (sys._debugmallocstats writes them to the C stderr)."""
    with tempfile.TemporaryFile("w+") as f:
        saved = os.dup(2)
        os.dup2(f.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        f.seek(0)
        text = f.read()
    found = {}
    for name in ("arenas allocated current", "arenas highwater mark"):
        match = re.search(rf"# {name}\s*=\s*([\d,]+)", text)
        if match:
            found[name.replace(" ", "_")] = int(match.group(1).replace(",", ""))
    return found


def report(signum: int, frame: FrameType | None) -> None:
    out: dict[str, Any] = {"rss_mb": round(rss_mb(), 1)}
    gc.unfreeze()  # the app freezes what it made at start-up (gc.freeze): count that too
    gc.collect()
    counts = Counter(type(obj).__name__ for obj in gc.get_objects())
    out["objects"] = counts.most_common(25)
    out.update(_budgets())
    gc.freeze()
    out.update(_arenas())
    if tracemalloc.is_tracing():
        snapshot = tracemalloc.take_snapshot()
        snapshot = snapshot.filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
        out["traced_mb"] = round(tracemalloc.get_traced_memory()[0] / 2**20, 1)
        stats = snapshot.compare_to(_previous[0], "lineno") if _previous else snapshot.statistics("lineno")
        out["top"] = [str(stat) for stat in stats[:15]]
        _previous[:] = [snapshot]
    libc_name = ctypes.util.find_library("c")
    trim = getattr(ctypes.CDLL(libc_name), "malloc_trim", None) if libc_name else None
    if trim is not None:
        trim(0)
        out["rss_after_trim_mb"] = round(rss_mb(), 1)
    with open(os.environ.get("MEMORY_PROBE_OUT", "memory_probe.jsonl"), "a") as f:
        f.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    from emulator.cli import main

    signal.signal(signal.SIGUSR1, report)
    sys.exit(main(sys.argv[1:]))
