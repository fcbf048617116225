"""The servers a test handle works on: what it uses of one (``Server``), and ``RemoteServer``.

An ``EmulatorServer`` (this process) is a ``Server`` as it is; an emulator that runs elsewhere is
one through ``RemoteServer``, from its URL alone (the plugin's ``--paradigm-url``).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..config import Settings


class Server(Protocol):
    """What the handle uses of a server: an ``EmulatorServer`` in this process, or a ``RemoteServer``."""

    @property
    def base_url(self) -> str: ...

    @property
    def v2(self) -> str: ...

    @property
    def v3(self) -> str: ...

    @property
    def settings(self) -> Settings: ...




class RemoteServer:
    """An emulator that runs elsewhere (``paradigm-emulator serve`` on another host, a shared CI
    service): what ``ParadigmEmulator`` needs of a server, from its URL alone. Its settings are
    not known here; ``admin_token`` (for an emulator run with --admin-token) is sent on every
    control call, and defaults to PARADIGM_EMULATOR_ADMIN_TOKEN."""

    def __init__(self, url: str, admin_token: str | None = None, api_key: str | None = None):
        from ..config import Settings, env_name

        root = url.rstrip("/")
        for suffix in ("/api/v2", "/api/v3"):
            if root.endswith(suffix):
                root = root[:-len(suffix)]
        if not root.startswith(("http://", "https://")):
            raise ValueError(f"the emulator's URL must start with http:// or https://, got {url!r}")
        self.base_url = root
        token = admin_token if admin_token is not None else os.environ.get(env_name("admin_token"))
        self.settings = Settings(admin_token=token or None, api_keys=(api_key,) if api_key else ())

    @property
    def v2(self) -> str:
        return self.base_url + "/api/v2"

    @property
    def v3(self) -> str:
        return self.base_url + "/api/v3"

    def __repr__(self) -> str:
        return f"<RemoteServer {self.base_url}>"
