"""Timing helpers: how long a shared-loop endpoint takes to answer while a heavy request runs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx


def while_running(heavy: Callable[[], Any], probe_url: str) -> tuple[Any, float, list[float]]:
    """Run ``heavy`` in a thread and GET ``probe_url`` over and over until it is done:
    -> (what heavy returned, its duration in s, the probe's latencies in s while it ran)."""
    result: dict[str, Any] = {}
    started = threading.Event()

    def run() -> None:
        began = time.perf_counter()
        started.set()
        result["value"] = heavy()
        result["seconds"] = time.perf_counter() - began

    thread = threading.Thread(target=run)
    thread.start()
    started.wait()
    latencies = []
    with httpx.Client(timeout=30.0) as probe:
        while thread.is_alive():
            began = time.perf_counter()
            probe.get(probe_url).raise_for_status()
            if thread.is_alive():  # a probe that ended after the heavy request says nothing of it
                latencies.append(time.perf_counter() - began)
    thread.join()
    return result["value"], result["seconds"], latencies
