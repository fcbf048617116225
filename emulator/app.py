"""create_app(settings) -> Starlette: the one place it is all wired.

Start-up does all the slow work (YAML, schema compilation, the model catalog,
fixtures) so that a request only touches compiled objects in memory.
"""

from __future__ import annotations

import contextlib
import logging

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware

from .config import Settings
from .control_api import control_routes
from .controls import HeaderControls, quiet_dropped_streams
from .guard import Guard
from .errors import StartupError
from .handlers import HANDLERS
from .documents.ingestion import Ingestion
from .answer import Timing
from .journal import Journal
from .memo import AnswerMemo
from .catalog import Catalog
from .pipeline import Pipeline
from .routing import build_routes, http_exception
from .fixtures.registry import Scripts
from .spec import Spec, load_specs
from .state import Backend
from .state.memory import MemoryBackend
from .documents.store import MemoryStore
from .documents.workspaces import Directory

log = logging.getLogger("emulator")


class Emulator:
    """The state one running emulator holds, reachable from every handler as ``call.emulator``."""

    def __init__(self, settings: Settings):
        self.settings = settings
        # Everything that must be the same on every worker lives here (see emulator/state).
        self.state: Backend = MemoryBackend()
        self.specs: list[Spec] = load_specs(settings.spec_dir)
        self.catalog = Catalog.load(settings.models_file)
        self.journal = Journal()
        # Server-wide delays belong to every answer: nothing is served from the memo then.
        self.memo = AnswerMemo(enabled=not (settings.ttft_ms or settings.itl_ms), max_mb=settings.memo_mb)
        # --ttft-ms / --itl-ms: the pace of every generated answer (a fixture may set its own).
        self.pace = Timing(ttft_ms=settings.ttft_ms, itl_ms=settings.itl_ms)
        # Fixture files load here, all or nothing: a broken one stops start-up (FixtureError names file:line).
        self.scripts = Scripts(settings, self.operations)
        self.controls = HeaderControls()
        # The stages every API request runs through (emulator/pipeline.py); a new one is inserted here.
        self.pipeline = Pipeline()
        # Files (v2 and v3 share them), the workspaces and tags they live in, and their ingestion.
        self.workspaces = Directory.load(settings)
        self.store = MemoryStore(epoch=settings.epoch)
        embedders = [m.dimensions for m in self.catalog.models if m.kind == "embedding" and m.dimensions]
        self.ingestion = Ingestion(self.store, settings.ingest_ms, embedders[0] if embedders else 1024)
        if settings.data_dir is not None:
            self.store.load(settings.data_dir)

    def save(self) -> None:
        """Snapshot the file store to --data-dir (done at shutdown; a no-op without --data-dir)."""
        if self.settings.data_dir is not None:
            self.store.snapshot(self.settings.data_dir)

    @property
    def operations(self):
        return [op for spec in self.specs for op in spec.operations]

    def reset(self) -> None:
        """Back to the state at start-up: journal, runtime fixtures and sequences, file store."""
        self.journal.clear()
        self.scripts.reset()
        self.store.clear()
        self.memo.clear()


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()
    try:
        emulator = Emulator(settings)
    except StartupError:
        raise
    except (ValueError, OSError) as exc:  # a fixture file, the workspaces YAML, a store snapshot: named in it
        raise StartupError(str(exc)) from exc
    # The API first: its routes are the hot path, and Starlette tries routes in order.
    routes = build_routes(emulator.operations, HANDLERS, emulator) + control_routes(emulator)
    quiet_dropped_streams()
    # Host, Origin and control-API media types are checked before any route (emulator/guard.py).
    app = Starlette(routes=routes, exception_handlers={HTTPException: http_exception},
                    middleware=[Middleware(Guard, settings=settings)], lifespan=_saving_on_shutdown(emulator))
    # Django answers /api/v2/models/ with a 404 (no APPEND_SLASH redirect for a path it lacks),
    # not with Starlette's bodiless 307.
    app.router.redirect_slashes = False
    app.state.emulator = emulator
    return app


def _saving_on_shutdown(emulator: Emulator):
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        yield
        try:
            emulator.save()
        except OSError as exc:  # a full disk must not turn a clean shutdown into a crash
            log.error("could not save the file store to %s: %s", emulator.settings.data_dir, exc)

    return lifespan
