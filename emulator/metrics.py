"""``GET /_emulator/metrics``: the emulator's figures in the Prometheus text format.

Built with the official ``prometheus-client``. One worker keeps its figures in a registry of its
own (several emulators in one test process never mix). With ``serve --workers N`` the CLI creates
a folder and names it in ``PROMETHEUS_MULTIPROC_DIR`` before the workers start: each worker then
writes its figures to memory-mapped files there (the library's multi-process mode), and a scrape
on any worker adds up every worker's files. (The other choice, counters on the state backend,
would cost a Redis round trip on every request; the files cost a memory write.)

Observed at the journal's point: once a request's body has ended (or its client went away),
with the status, the real duration and how the body ended.
"""

from __future__ import annotations

import math
import os
from bisect import bisect_left
from collections.abc import Callable, Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.utils import floatToGoString
from starlette.responses import Response

from .call import Call

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PREFIX = "paradigm_emulator_"
STREAM_TYPE = b"text/event-stream"
# The *_created series (when each label set was first seen) double the text and say nothing here.
disable_created_metrics()


class Metrics:
    def __init__(self, turn_operations: frozenset[str], ingesting: Callable[[], int]):
        self.multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        self.registry = CollectorRegistry()
        registry = self.registry
        # Every request is counted here: one worker counts in plain dicts that a collector hands to
        # the library at the scrape (a labelled Counter and Histogram cost ~4 us a request, behind
        # locks); several workers need the library's own, which write the shared files.
        self.answered: Answered = (LibraryAnswered(registry) if self.multiprocess
                                   else CountedAnswered(registry))
        self.streams = Counter(PREFIX + "streams", "SSE streams, by how they ended (complete, truncated, "
                               "dropped)", ["outcome"], registry=registry)
        self.turns_running = Gauge(PREFIX + "turns_running", "v3 turn requests being served",
                                   registry=registry, multiprocess_mode="livesum")
        self.ingestion_queue = Gauge(PREFIX + "ingestion_queue", "Uploaded files waiting to be embedded",
                                     registry=registry, multiprocess_mode="livesum")
        self.throttled = Counter(PREFIX + "rate_limited", "Requests refused by a rate limit, by operation "
                                 "and the limit (requests, tokens)", ["operation", "limit"],
                                 registry=registry)
        self.state_errors = Counter(PREFIX + "state_backend_errors", "Requests answered 503 because the "
                                    "state backend could not be reached", registry=registry)
        self.turn_operations = turn_operations
        self.ingesting = ingesting  # the files this worker is embedding now
        self._turns: set[int] = set()  # the turn calls counted in turns_running (by id of the call)

    # -- observing ---------------------------------------------------------------------------------------

    def started(self, call: Call) -> None:
        if call.operation.operation_id in self.turn_operations:
            self._turns.add(id(call))
            self.turns_running.inc()

    async def finished(self, call: Call, response: Response, outcome: str, seconds: float) -> None:
        status = response.status_code
        self.answered.observe(call.operation.operation_id, status, seconds)
        if _is_stream(response):
            self.streams.labels(outcome).inc()
        if id(call) in self._turns:
            self._turns.discard(id(call))
            self.turns_running.dec()
        if status == 503 and _state_error(response):
            self.state_errors.inc()

    def rejected(self, call: Call, limit: str) -> None:
        self.throttled.labels(call.operation.operation_id, limit).inc()

    # -- the scrape ---------------------------------------------------------------------------------------

    def scrape(self) -> Response:
        # The files this worker is embedding now (each worker sets its own; the scrape adds them up).
        self.ingestion_queue.set(self.ingesting())
        if self.multiprocess:
            registry = CollectorRegistry()
            MultiProcessCollector(registry)
        else:
            registry = self.registry
        return Response(generate_latest(registry), media_type=CONTENT_TYPE)


def _state_error(response: Response) -> bool:
    body = getattr(response, "body", b"")
    return isinstance(body, bytes) and b"state backend" in body[:200]


def _is_stream(response: Response) -> bool:
    """Whether the response is an event stream (its raw headers read: ``response.headers`` would
    build a header object on every request)."""
    for name, value in response.raw_headers:
        if name == b"content-type":
            return value.startswith(STREAM_TYPE)
    return False


REQUESTS = (PREFIX + "requests", "API requests answered, by operation and status")
LATENCY = (PREFIX + "request_duration_seconds",
           "Time from a request's arrival to its body's end, by operation")
BUCKETS = (.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30)


class Answered:
    """Requests answered, by operation and status, and their latency by operation."""

    def observe(self, operation: str, status: int, seconds: float, count: int = 1) -> None:
        """``count`` requests of one operation and status, each of them taking ``seconds``."""
        raise NotImplementedError


class LibraryAnswered(Answered):
    """The library's labelled Counter and Histogram (what the multi-process mode writes to its files)."""

    def __init__(self, registry: CollectorRegistry):
        self.requests = Counter(*REQUESTS, ["operation", "status"], registry=registry)
        self.latency = Histogram(*LATENCY, ["operation"], registry=registry, buckets=BUCKETS)
        self._children: dict[tuple[str, int], tuple[Counter, Histogram]] = {}

    def observe(self, operation: str, status: int, seconds: float, count: int = 1) -> None:
        children = self._children.get((operation, status))
        if children is None:
            children = (self.requests.labels(operation, str(status)), self.latency.labels(operation))
            self._children[(operation, status)] = children
        children[0].inc(count)
        for _ in range(count):
            children[1].observe(seconds)


class CountedAnswered(Answered):
    """The same figures counted in plain dicts and given to the library as metric families when it
    collects: the scrape's text is the one the Counter and Histogram above would write."""

    def __init__(self, registry: CollectorRegistry):
        self.bounds = (*map(float, BUCKETS), math.inf)
        self.les = [floatToGoString(bound) for bound in self.bounds]
        self.requests: dict[tuple[str, int], int] = {}
        self.latency: dict[str, tuple[list[int], list[float]]] = {}  # per bucket, and [sum]
        registry.register(self)

    def observe(self, operation: str, status: int, seconds: float, count: int = 1) -> None:
        key = (operation, status)
        self.requests[key] = self.requests.get(key, 0) + count
        found = self.latency.get(operation)
        if found is None:
            found = self.latency[operation] = ([0] * len(self.bounds), [0.0])
        found[0][bisect_left(self.bounds, seconds)] += count  # the first bucket whose bound is >= it
        total = found[1]
        for _ in range(count):  # added one by one, as the Histogram does: the same float sum
            total[0] += seconds

    def describe(self) -> list[Metric]:  # the names, for the registry's check of duplicates
        return [CounterMetricFamily(*REQUESTS, labels=["operation", "status"]),
                HistogramMetricFamily(*LATENCY, labels=["operation"])]

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(*REQUESTS, labels=["operation", "status"])
        for (operation, status), count in self.requests.items():
            requests.add_metric([operation, str(status)], float(count))
        latency = HistogramMetricFamily(*LATENCY, labels=["operation"])
        for operation, (counts, total) in self.latency.items():
            cumulative, buckets = 0.0, []
            for le, count in zip(self.les, counts, strict=True):
                cumulative += count
                buckets.append((le, cumulative))
            latency.add_metric([operation], buckets, total[0])
        yield requests
        yield latency
