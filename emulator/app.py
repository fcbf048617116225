"""create_app(settings) -> Starlette: the one place it is all wired.

Start-up does all the slow work (YAML, schema compilation, the model catalog,
fixtures) so that a request only touches compiled objects in memory.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.responses import Response

from .config import Settings
from .handlers import HANDLERS
from .journal import Journal
from .models import Catalog
from .routing import Call, Handler, build_routes, http_exception
from .scripts import NoControls, NoScripts
from .spec import Spec, load_specs

log = logging.getLogger("emulator")


class Emulator:
    """The state one running emulator holds, reachable from every handler as ``call.emulator``."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.specs: list[Spec] = load_specs(settings.spec_dir)
        self.catalog = Catalog.load(settings.models_file)
        self.journal = Journal()
        self.scripts: Any = NoScripts()
        self.controls: Any = NoControls()

    @property
    def operations(self):
        return [op for spec in self.specs for op in spec.operations]

    async def dispatch(self, call: Call, handler: Handler) -> Response:
        return await handler(call)

    def reset(self) -> None:
        """Back to the state at start-up: journal emptied (and, as they come, stores and scripts)."""
        self.journal.clear()


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()
    emulator = Emulator(settings)
    routes = build_routes(emulator.operations, HANDLERS, emulator)
    app = Starlette(routes=routes, exception_handlers={HTTPException: http_exception})
    app.state.emulator = emulator
    return app
