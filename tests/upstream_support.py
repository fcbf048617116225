"""Shared wiring of the upstream tests: a second emulator as the upstream, a proxy in front of it."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from emulator.server import EmulatorServer

KEY = "upstream-secret-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}
CHAT = {"model": "alfred-4.2", "messages": [{"role": "user", "content": "Hello there"}], "max_tokens": 6}


def journal(server: EmulatorServer, **query: Any) -> list[dict[str, Any]]:
    response = httpx.get(server.base_url + "/_emulator/journal", params=query, timeout=10)
    response.raise_for_status()
    return response.json()["requests"]


def wait_for(predicate: Callable[[], Any], seconds: float = 20.0) -> Any:
    """Poll until ``predicate`` gives something truthy (a bounded wait for another process's state)."""
    deadline = time.monotonic() + seconds
    while True:
        found = predicate()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def recording_text(folder: Path) -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(folder.rglob("*")) if p.is_file())
