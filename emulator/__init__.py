"""paradigm-emulator: a deterministic emulator of LightOn's Paradigm API.

The public names are importable from here. They load on first use, so ``import emulator`` (which
the pytest plugin does at every pytest start) stays cheap: the server, uvicorn and the specs are
imported only by the code that asks for them.
"""

from __future__ import annotations

import importlib

from .version import __version__

# Type checkers read the imports below as true; at run time this avoids importing `typing`.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from .app import create_app, create_app_from_env
    from .config import Settings
    from .pipeline import RATE_LIMITS_AFTER, Step
    from .server import EmulatorServer
    from .testing.handle import ParadigmEmulator, RemoteServer

__all__ = [
    "RATE_LIMITS_AFTER",
    "EmulatorServer",
    "ParadigmEmulator",
    "RemoteServer",
    "Settings",
    "Step",
    "__version__",
    "create_app",
    "create_app_from_env",
]

# Public name -> the module that defines it.
_HOMES = {
    "Settings": ".config",
    "create_app": ".app",
    "create_app_from_env": ".app",
    "EmulatorServer": ".server",
    "ParadigmEmulator": ".testing.handle",
    "RemoteServer": ".testing.handle",
    "Step": ".pipeline",
    "RATE_LIMITS_AFTER": ".pipeline",
}


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home, __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
