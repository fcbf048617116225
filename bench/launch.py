"""Start ``paradigm-emulator serve --port 0`` (the real CLI) and read the base URL it prints."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 30


def start_emulator(*flags: str, root: Path = ROOT, launcher: tuple[str, ...] = ("-m", "emulator"),
                   env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    """-> (the process, its root URL such as http://127.0.0.1:43121). Bounded: gives up after 30 s.
    ``root``: the checkout whose ``emulator`` package runs (another one: a before/after comparison);
    ``launcher``: what python runs instead of ``-m emulator`` (a script that calls the CLI);
    ``env``: variables added to this process's environment for the server."""
    command = [sys.executable, *launcher, "serve", "--port", "0", "--log-level", "warning", *flags]
    process = subprocess.Popen(command, cwd=root, stdout=subprocess.PIPE, text=True,  # logs go to our stderr
                               env=None if env is None else {**os.environ, **env})
    assert process.stdout is not None
    timer = __import__("threading").Timer(START_TIMEOUT_S, process.kill)  # readline() cannot time out alone
    timer.start()
    try:
        for line in process.stdout:
            found = re.search(r"v2 base URL: (http://\S+)/api/v2", line)
            if found:
                return process, found.group(1)
    finally:
        timer.cancel()
    process.kill()
    raise SystemExit(f"the emulator did not start within {START_TIMEOUT_S} s")


def stop(process: subprocess.Popen) -> None:
    """Stop a server started here: terminated, killed if it does not exit within 10 s."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
