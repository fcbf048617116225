"""Load for the per-feature benchmarks: one JSON body POSTed over and over -> requests per second.

wrk (one thread, ``connections`` connections) when it is installed, as the core benchmark uses
it; else a small asyncio client stands in (it needs a core of its own, so its figures are lower).
A response that is not a 2xx fails the run.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

KEY = "bench"


def post_rate(base: str, path: str, body: dict[str, Any], seconds: int, connections: int) -> float:
    """Requests per second of ``POST base + path`` with ``body``, over ``seconds``."""
    if shutil.which("wrk"):
        return _wrk(base + path, body, seconds, connections)
    return asyncio.run(_python_load(base, path, body, seconds, connections))


def _wrk(url: str, body: dict[str, Any], seconds: int, connections: int) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(f"wrk.method = 'POST'\nwrk.body = [[{json.dumps(body)}]]\n"
                     "wrk.headers['Content-Type'] = 'application/json'\n"
                     f"wrk.headers['Authorization'] = 'Bearer {KEY}'\n")
    output = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", script.name, url],
                            capture_output=True, text=True, timeout=seconds + 30, check=True)
    Path(script.name).unlink()
    if "Non-2xx" in output.stdout:
        raise RuntimeError("wrk saw errors:\n" + output.stdout)
    found = re.search(r"Requests/sec:\s+([\d.]+)", output.stdout)
    if found is None:
        raise RuntimeError("wrk printed no rate:\n" + output.stdout)
    return float(found.group(1))


async def _python_load(base: str, path: str, body: dict[str, Any], seconds: int, connections: int) -> float:
    import httpx

    done = 0
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {KEY}"}, timeout=10,
                                 limits=httpx.Limits(max_connections=connections)) as client:
        async def worker() -> None:
            nonlocal done
            while time.monotonic() < deadline:
                (await client.post(path, json=body)).raise_for_status()
                done += 1

        await asyncio.gather(*(worker() for _ in range(connections)))
    return done / seconds
