"""The connections the test handles of one process share, kept for the whole process.

One control client per emulator (and test space), and one httpx pool for the ``openai.OpenAI``
clients of each emulator: a test pays for neither a new client nor a new connection. A server in
this process is called in process instead (``local_control``). The plugin closes them all at the
end of the session (``close_control_clients``), and so does the interpreter's exit.
"""

from __future__ import annotations

import atexit
import ssl
import threading
from typing import TYPE_CHECKING, cast

from .control import ControlClient
from .local_control import LocalControlClient, LocalServer
from .servers import Server

if TYPE_CHECKING:
    import httpx

CLIENT_TIMEOUT_S = 10.0

# The emulator speaks plain HTTP on loopback. Handing httpx a context without CA certificates
# spares it the 20 ms it spends loading them for every client (that is 20 s over 1,000 tests).
_PLAIN_HTTP = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


_clients: dict[tuple[str, str | None, str | None], ControlClient] = {}
_clients_lock = threading.Lock()


def control_client(server: Server, space_key: str | None = None) -> ControlClient | LocalControlClient:
    """The app itself for a server in this process (``local_control``); else one keep-alive client per
    emulator (and test space) for the whole process: a reset is one round trip on an open
    connection, not a new connection (nor a new client) per test."""
    admin_token = server.settings.admin_token
    headers = {"X-Emulator-Admin-Token": admin_token} if admin_token else {}
    if space_key:
        headers["X-Emulator-Api-Key"] = space_key
    if hasattr(server, "serving_loop") and hasattr(server, "app"):
        return LocalControlClient(cast("LocalServer", server), headers, CLIENT_TIMEOUT_S)
    key = (server.base_url, admin_token, space_key)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = ControlClient(server.base_url, headers, CLIENT_TIMEOUT_S)
        return client


_pools: dict[str, httpx.Client] = {}


def shared_http(base_url: str) -> httpx.Client:
    """The httpx client the handles' ``openai.OpenAI`` clients share for one emulator (a new one if a
    test closed it, as ``with emu.client() as client:`` does)."""
    import httpx

    with _clients_lock:
        pool = _pools.get(base_url)
        if pool is None or pool.is_closed:
            pool = _pools[base_url] = httpx.Client(verify=_PLAIN_HTTP, trust_env=False)
        return pool


def close_control_clients() -> None:
    """Close the control API clients and the shared connection pools (the plugin does it at the end
    of the session)."""
    with _clients_lock:
        clients, pools = list(_clients.values()), list(_pools.values())
        _clients.clear()
        _pools.clear()
    for client in clients:
        client.close()
    for pool in pools:
        pool.close()


atexit.register(close_control_clients)
