"""How the emulator is served: the uvicorn stack, the port, and the URLs it announces.

Shared by the CLI (``paradigm-emulator serve``) and ``server.EmulatorServer`` (the in-process
server of the plugin and the tests), so the library never imports the CLI.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .errors import StartupError

MAX_PORT = 65_535


def fast_stack() -> dict[str, str]:
    """httptools + uvloop when installed (uvicorn[standard]): 2.5-3.5x the throughput of h11 + asyncio."""
    options = {}
    try:
        import httptools  # noqa: F401

        options["http"] = "httptools"
    except ImportError:
        options["http"] = "h11"
    try:
        import uvloop  # noqa: F401

        options["loop"] = "uvloop"
    except ImportError:
        options["loop"] = "asyncio"
    return options


def check_port(port: int) -> int:
    """A TCP port is 0 to 65535 (0: a free one): anything else is refused here, not wrapped by the OS."""
    if not 0 <= port <= MAX_PORT:
        raise StartupError(f"--port must be from 0 to {MAX_PORT} (0 picks a free port), got {port}")
    return port


def bound_port(server: object, default: int = 0) -> int:
    """The port a started ``uvicorn.Server`` listens on (with ``--port 0``, the one the system picked)."""
    port = default
    for listener in getattr(server, "servers", []):
        for sock in listener.sockets:
            port = sock.getsockname()[1]
    return port


def base_urls(host: str, port: int) -> dict[str, str]:
    shown = f"[{host}]" if ":" in host else host
    return {"v2": f"http://{shown}:{port}/api/v2", "v3": f"http://{shown}:{port}/api/v3",
            "ui": f"http://{shown}:{port}/_emulator/ui"}


# glibc's mallopt parameters (malloc.h): fixed thresholds, instead of the dynamic ones.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8
_RELEASE_FROM = 64 * 1024
_HOLD_UP_TO = 32 * 1024 * 1024  # the largest mmap threshold glibc accepts (half its 64 MB heaps)
_HOLD_TRIM = 1 << 30


class _Allocator:
    """glibc's thresholds, once ``release_freed_memory`` set them, and who holds them up now."""

    def __init__(self) -> None:
        self.libc: Any = None  # set once the thresholds are fixed: the C library to call
        self.holders = 0
        self.lock = threading.Lock()

    def set(self, mmap: int, trim: int) -> bool:
        mallopt = self.libc.mallopt
        return bool(mallopt(_M_MMAP_THRESHOLD, mmap)) and bool(mallopt(_M_TRIM_THRESHOLD, trim))


_allocator = _Allocator()


def release_freed_memory() -> bool:
    """Have glibc give large freed blocks back to the system, in a server process only.

    By default glibc raises its mmap threshold each time a large block is freed, so the next large
    request bodies and answers (a 5 MB prompt, a 1,000-input embeddings batch) come from the heap,
    where freed memory stays resident: the process keeps the size of its busiest moment. With the
    thresholds fixed, blocks of 64 KB and more are mapped and unmapped, and the heap is trimmed: the
    resident size follows what is really held (the journal and the memo, bounded in bytes).
    Elsewhere than glibc this is a no-op. (Never done by the in-process test server: the allocator
    of a user's pytest process is theirs.)"""
    try:
        import ctypes
        import ctypes.util

        name = ctypes.util.find_library("c")
        libc = ctypes.CDLL(name) if name else None
        if getattr(libc, "mallopt", None) is None or getattr(libc, "malloc_trim", None) is None:
            return False
        with _allocator.lock:
            _allocator.libc = libc
            # One arena for every thread: an ingestion's helper thread had an arena of its own, and
            # what its batches freed there stayed resident (~50 MB) after ``malloc_trim``. Python's
            # own objects do not come from these arenas, so the threads seldom wait on one another.
            _allocator.libc.mallopt(_M_ARENA_MAX, 1)
            return _allocator.set(_RELEASE_FROM, _RELEASE_FROM)
    except OSError:  # pragma: no cover - no C library to load
        return False


@contextmanager
def holding_freed_memory() -> Iterator[None]:
    """Within, large freed blocks stay in the process to be used again (once ``release_freed_memory``
    made glibc hand them back; otherwise nothing changes), and once the last thread within is
    done they are handed back at once (``malloc_trim``).

    For work that makes and drops arrays of megabytes over and over: a file's ingestion, batch
    after batch of chunks. Mapped afresh each time, every 4 KB of them is a page fault (measured:
    as much CPU time as the arithmetic itself)."""
    with _allocator.lock:
        held = _allocator.libc is not None
        if held:
            _allocator.holders += 1
            if _allocator.holders == 1:
                _allocator.set(_HOLD_UP_TO, _HOLD_TRIM)
    try:
        yield
    finally:
        if held:
            with _allocator.lock:
                _allocator.holders -= 1
                if not _allocator.holders:
                    _allocator.set(_RELEASE_FROM, _RELEASE_FROM)
                    _allocator.libc.malloc_trim(0)
