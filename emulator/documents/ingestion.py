"""An uploaded file's ingestion, scheduled, shared between workers, and the status clients see meanwhile.

As on Paradigm, an upload starts ``pending``, goes through ``parsing`` and ``embedding``, and ends
``embedded`` (or ``parsing_failed`` when no text can be read, or a budget is exceeded; the other
failures when a fixture scripts them) ``--ingest-ms`` after the upload: the
vocabulary and the timeline are ``statuses``'. The status is computed from the upload time on the
backend's shared clock (``state.now()``), so every worker tells the same story and nothing runs
on a timer.

The work itself begins at the upload, in a thread pool: extraction and embedding are CPU-bound,
and off the event loop every other request (a health check included) is served meanwhile. Its
result is written to the backend, so every worker sees it. A request that looks at a file whose
time is up waits for it; with the default ``--ingest-ms 0`` a file is therefore ``embedded`` for
every request made after its upload answered.

Whoever ingests a file holds a *lease* on it (renewed while the work goes on). A worker that dies
mid-ingestion stops renewing it; once it has run out, the next request that waits for the file
takes the lease over and ingests the file itself. The work of one file (pages -> chunks ->
vectors) is ``chunking.ingest``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from ..config import Settings
from ..errors import StateUnavailable
from . import statuses
from .chunking import Cancelled, ingest
from .extraction import Budget
from .statuses import EMBEDDED, EMBEDDING, FAILURES, PARSING, PENDING, QUEUED
from .store import FAILED, FileRecord, FileStore

log = logging.getLogger("emulator.ingestion")

STATUSES = statuses.STATUSES
__all__ = ["EMBEDDED", "EMBEDDING", "FAILED", "FAILURES", "PARSING", "PENDING", "STATUSES"]
# How long an ingestion is left to a worker that stopped renewing its lease (``ingest_lease_s``,
# 5 s by default; it renews every fifth of it). Short, because a request waits that long for a dead
# worker's file; a live worker whose renewal came late only costs a second worker the same work (the
# first result stored stands).
RENEWALS_PER_LEASE = 5
POLL_S = 0.02  # how often a request waiting for another worker's ingestion looks at the backend
# Ingestions a process runs at once (the rest wait their turn, holding no Redis connection): hundreds
# taken over together after a worker died must leave the backend's connections to the requests.
AT_ONCE = 8
# Threads that take a share of a file's vectors beside the one ingesting it: one a further core this
# process may run on (its CPU affinity, which a container's limit sets, where the system tells it).
_CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
HELPERS = max(0, min(3, _CORES - 1))


class Ingestion:
    def __init__(self, files: FileStore, settings: Settings, dimensions: int):
        self.files = files
        self.delay = max(settings.ingest_ms, 0.0) / 1000
        self.dimensions = dimensions
        self.budget = Budget(max_extracted_mb=settings.max_extracted_mb, max_zip_ratio=settings.max_zip_ratio,
                             max_pdf_pages=settings.max_pdf_pages)
        # Who this process is, on leases: unique to it, so a lease is never mistaken for another's.
        self.owner = f"{os.getpid()}-{secrets.token_hex(6)}"
        self._pool: ThreadPoolExecutor | None = None
        self._helpers: ThreadPoolExecutor | None = None
        self._tasks: dict[str, asyncio.Task] = {}
        self._pace = asyncio.Semaphore(AT_ONCE)
        # A memory backend is this process's alone: a lease another owner holds there is a previous
        # run's (--data-dir), and that run is over.
        self.exclusive = files.state.kind == "memory"
        self.lease_s = max(settings.ingest_lease_s, 0.1)  # renewed every 20 ms at the shortest
        files.lease = (self.owner, self.lease_s)
        files.on_added = self._added

    # -- what clients see ----------------------------------------------------------------------------

    async def now(self) -> float:
        return await self.files.state.now()

    def due(self, record: FileRecord, now: float) -> bool:
        return now >= record.uploaded + self.delay

    def status(self, record: FileRecord, now: float) -> str:
        return statuses.text_status(record.state, now - record.uploaded, self.delay)

    def status_vision(self, record: FileRecord, now: float) -> str | None:
        return statuses.vision_status(record.extra, self.status(record, now))

    async def settle(self, records: Iterable[FileRecord]) -> list[FileRecord]:
        """``records`` again, each file whose time is up ingested (so that its status is final); a
        record changed meanwhile is given as it is now, one deleted meanwhile as it was."""
        return (await self.settled(records))[0]

    async def settled(self, records: Iterable[FileRecord]) -> tuple[list[FileRecord], float]:
        """``settle``, and a time on the shared clock at which their statuses are the final ones:
        the one read first when no file had to be waited for (one read of the clock), else a later one."""
        records = list(records)
        now = await self.now()
        waiting = [r for r in records if r.state == QUEUED and self.due(r, now)]
        if not waiting:
            return records, now
        finished = await asyncio.gather(*(self._finished(r) for r in waiting))
        fresh = {r.key: r for r in finished if r is not None}
        return [fresh.get(r.key, r) for r in records], await self.now()

    async def ready(self, records: Iterable[FileRecord]) -> list[FileRecord]:
        """The files among ``records`` that are embedded now: what a search may look at."""
        return (await self.ready_at(records))[0]

    async def ready_at(self, records: Iterable[FileRecord]) -> tuple[list[FileRecord], float]:
        """``ready``, and the time on the shared clock it was true at."""
        settled, now = await self.settled(records)
        return [r for r in settled if self.status(r, now) == EMBEDDED], now

    # -- the work ------------------------------------------------------------------------------------

    def _added(self, record: FileRecord) -> None:
        """A new upload (made by this process, so the lease the store wrote is ours): begin at once."""
        self._start(record)

    def _start(self, record: FileRecord) -> asyncio.Task:
        task = self._tasks.get(record.key)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._ingest(record))
            self._tasks[record.key] = task
            task.add_done_callback(lambda _: self._tasks.pop(record.key, None))
        return task

    async def _finished(self, record: FileRecord) -> FileRecord | None:
        """Wait until ``record`` is ingested, by this process or another; None when it is gone."""
        while True:
            task = self._tasks.get(record.key)
            if task is not None:
                # shield: a client that goes away cancels its request, never the ingestion others wait for
                await asyncio.shield(task)
            current = await self.files.get(record.id)
            if current is None or current.nonce != record.nonce:
                return None
            if current.state != QUEUED:
                return current
            now = await self.now()
            mine = current.lease == self.owner
            if current.lease_until <= now or (mine or self.exclusive) and record.key not in self._tasks:
                taken = await self._take(current, now)
                if taken is not None:
                    if current.lease not in (None, self.owner):
                        log.warning("file %s: the lease of %s ran out; ingesting it here", record.id,
                                    current.lease)
                    self._start(taken)
                    continue
            await asyncio.sleep(POLL_S)  # another worker is on it: its result lands in the backend

    async def _take(self, record: FileRecord, now: float) -> FileRecord | None:
        owner = self.owner
        lease_s = self.lease_s
        exclusive = self.exclusive

        def take(current: FileRecord) -> FileRecord | None:
            held = current.lease_until > now and current.lease != owner and not exclusive
            if current.state != QUEUED or held:
                return None
            return current.replace(lease=owner, lease_until=now + lease_s)

        taken = await self.files.update(record.id, take, nonce=record.nonce)
        return taken if taken is not None and taken.lease == owner and taken.state == QUEUED else None

    async def _ingest(self, record: FileRecord) -> None:
        cancelled = threading.Event()
        renewing = asyncio.get_running_loop().create_task(self._renew(record, cancelled))
        try:
            async with self._pace:
                raw = await self.files.raw(record)
                loop = asyncio.get_running_loop()
                extracted = await loop.run_in_executor(
                    self._executor(), ingest, record, raw, None, self.dimensions, self.budget, cancelled,
                    self._helping())
                await self.files.attach(record, extracted)
        except Cancelled:
            return
        except StateUnavailable as exc:
            # Redis went away: the lease runs out, and a request made once it is back ingests the file.
            log.warning("file %s: its ingestion could not be stored (%s); it will be taken up again",
                        record.id, exc)
        finally:
            renewing.cancel()

    async def _renew(self, record: FileRecord, cancelled: threading.Event) -> None:
        owner = self.owner
        while True:
            await asyncio.sleep(self.lease_s / RENEWALS_PER_LEASE)
            until = await self.now() + self.lease_s

            def renew(current: FileRecord, until: float = until) -> FileRecord | None:
                if current.state != QUEUED or current.lease != owner:
                    return None
                return current.replace(lease_until=until)

            try:
                renewed = await self.files.update(record.id, renew, nonce=record.nonce)
            except StateUnavailable:
                continue  # Redis away for a moment: the next renewal may land before the lease runs out
            if renewed is None:
                cancelled.set()  # deleted: the thread stops at its next check
                return

    def idle(self) -> bool:
        """Whether this process is ingesting nothing."""
        return not self._tasks

    def in_progress(self) -> int:
        """How many files this process is ingesting now (the metrics' ingestion queue)."""
        return len(self._tasks)

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1)),
                                            thread_name_prefix="paradigm-ingest")
        return self._pool

    def _helping(self) -> tuple[ThreadPoolExecutor, int] | None:
        if not HELPERS:
            return None
        if self._helpers is None:
            self._helpers = ThreadPoolExecutor(max_workers=HELPERS, thread_name_prefix="paradigm-embed")
        return self._helpers, HELPERS

    def close(self) -> None:
        for pool in (self._pool, self._helpers):
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
