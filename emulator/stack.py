"""How the emulator is served: the uvicorn stack, the port, and the URLs it announces.

Shared by the CLI (``paradigm-emulator serve``) and ``server.EmulatorServer`` (the in-process
server of the plugin and the tests), so the library never imports the CLI.
"""

from __future__ import annotations

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


def base_urls(host: str, port: int) -> dict[str, str]:
    shown = f"[{host}]" if ":" in host else host
    return {"v2": f"http://{shown}:{port}/api/v2", "v3": f"http://{shown}:{port}/api/v3"}
