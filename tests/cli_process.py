"""``paradigm-emulator serve`` as a real process on a free port: for the tests of the CLI itself,
of --data-dir across a SIGKILL, and of --workers."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
START_S = 30.0


def start_cli(*flags: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    """-> (the process, its root URL), once it has printed its base URLs (the socket is bound)."""
    process = subprocess.Popen([sys.executable, "-m", "emulator", "serve", "--port", "0", *flags], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, **(env or {})})
    assert process.stdout is not None and process.stderr is not None
    printed = ""
    deadline = time.monotonic() + START_S
    while "v3 base URL" not in printed and time.monotonic() < deadline and process.poll() is None:
        printed += process.stdout.readline()
    match = re.search(r"v2 base URL: (http://\S+)/api/v2\n  v3 base URL: \1/api/v3\n", printed)
    if match is None:
        process.kill()
        pytest.fail(f"no base URLs printed within {START_S} s: {printed!r} {process.stderr.read()!r}")
    return process, match[1]
