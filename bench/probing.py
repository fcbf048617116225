"""A heavy request in a thread while another connection asks a light one over and over: how long
the light one waits meanwhile (what one client's big request costs every other client)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

import httpx

T = TypeVar("T")


def while_probing(heavy: Callable[[], T], probe_url: str) -> tuple[T, float, list[float]]:
    """-> (what ``heavy`` returned, its seconds, the probe's latencies in s while it ran). The probe's
    connection is open before ``heavy`` starts; a probe that ends after it says nothing of it."""
    result: list[T] = []
    seconds: list[float] = []
    done = threading.Event()

    def run() -> None:
        began = time.perf_counter()
        try:
            result.append(heavy())
        finally:
            seconds.append(time.perf_counter() - began)
            done.set()

    latencies: list[float] = []
    with httpx.Client(timeout=300.0) as probe:
        probe.get(probe_url).raise_for_status()
        thread = threading.Thread(target=run)
        thread.start()
        while not done.is_set():
            began = time.perf_counter()
            probe.get(probe_url).raise_for_status()
            if not done.is_set():
                latencies.append(time.perf_counter() - began)
    thread.join()
    if not result:
        raise SystemExit("the heavy request failed (its error is above)")
    return result[0], seconds[0], latencies
