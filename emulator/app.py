"""create_app(settings) -> Starlette: the one place it is all wired.

Start-up does all the slow work (YAML, schema compilation, the model catalog,
fixtures) so that a request only touches compiled objects in memory.
"""

from __future__ import annotations

import contextlib
import gc
import logging

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.responses import Response


from .config import Settings, from_env
from .stack import release_freed_memory
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
from .team import Team, team_routes
from .routing import StaticFirstRouter, build_routes, http_exception
from .fixtures.registry import Scripts
from .spec import Spec, load_specs
from .errors import StateUnavailable, dumps
from .state import Backend
from .state.memory import MemoryBackend
from .documents.store import FileStore
from .documents.workspaces import Directory
from .conversations.directory import AgentDirectory
from .conversations.records import Conversations

log = logging.getLogger("emulator")


class Emulator:
    """The state one running emulator holds, reachable from every handler as ``call.emulator``."""

    def __init__(self, settings: Settings):
        self.settings = settings
        # Everything that must be the same on every worker lives here (see emulator/state).
        self.state: Backend = open_backend(settings)
        self.specs: list[Spec] = load_specs(settings.spec_dir)
        self.catalog = Catalog.load(settings.models_file)
        self.journal = Journal(self.state, settings)
        # Server-wide delays belong to every answer: nothing is served from the memo then.
        self.memo = AnswerMemo(enabled=not (settings.ttft_ms or settings.itl_ms), max_mb=settings.memo_mb)
        # --ttft-ms / --itl-ms: the pace of every generated answer (a fixture may set its own).
        self.pace = Timing(ttft_ms=settings.ttft_ms, itl_ms=settings.itl_ms)
        # Fixture files load here, all or nothing: a broken one stops start-up (FixtureError names file:line).
        self.scripts = Scripts(settings, self.operations, self.state)
        # A reset on any worker is seen by every worker's next request: its local caches go then.
        self.scripts.on_reset.append(self.memo.clear)
        self.controls = HeaderControls()
        # The stages every API request runs through (emulator/pipeline.py); a new one is inserted here.
        self.pipeline = Pipeline()
        # Files (v2 and v3 share them), the workspaces and tags they live in, and their ingestion.
        self.workspaces = Directory.load(self.state, settings)
        self.files = FileStore(self.state, epoch=settings.epoch)
        embedders = [m.dimensions for m in self.catalog.models if m.kind == "embedding" and m.dimensions]
        # Files are records of the backend: --data-dir (memory) or Redis keeps them, nothing to load.
        self.ingestion = Ingestion(self.files, settings, embedders[0] if embedders else 1024)
        # v3 agents (seeded from fixtures/agents.yaml), threads and turns: records of self.state.
        self.agents = AgentDirectory.load(settings.agents_file, settings.epoch)
        self.conversations = Conversations(self.state, settings.seed, settings.epoch)
        # Users, test spaces, rate limits and metrics: stages and routes of their own (emulator/team.py).
        self.team = Team(self)

    @property
    def operations(self):
        return [op for spec in self.specs for op in spec.operations]

    async def reset(self) -> None:
        """Back to the state at start-up, for every worker at once: the whole backend (journal,
        runtime fixtures, use counters, files, workspaces and tags ...) is cleared, and a new
        generation tells every worker's local caches (compiled fixtures, the memo) to go. (The
        fixtures' workspaces and tags come back at their next use; cached vectors and the lexical
        index are keyed on each upload's nonce, so nothing stale is ever read from them.)"""
        await self.state.clear()
        await self.scripts.reset()
        self.memo.clear()


def open_backend(settings: Settings) -> Backend:
    """Redis when --redis-url is given (shared by every worker and replica), else this process's memory
    (made durable in --data-dir when given)."""
    if settings.redis_url:
        from .state.redis import RedisBackend  # imported only when used: the memory default needs no client

        return RedisBackend(settings.redis_url, settings.redis_prefix)
    return MemoryBackend(settings.data_dir)


def create_app_from_env() -> Starlette:
    """The app factory of ``serve --workers N``: each worker process builds its app from the
    ``PARADIGM_EMULATOR_*`` variables the CLI set from its flags."""
    release_freed_memory()
    return create_app(from_env())


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()
    try:
        emulator = Emulator(settings)
    except StartupError:
        raise
    except (ValueError, OSError) as exc:  # a fixture file, the workspaces YAML, a store snapshot: named in it
        raise StartupError(str(exc)) from exc
    # The API first: its routes are the hot path, and Starlette tries routes in order.
    routes = (build_routes(emulator.operations, HANDLERS, emulator) + control_routes(emulator)
              + team_routes(emulator))
    quiet_dropped_streams()
    # Host, Origin and control-API media types are checked before any route (emulator/guard.py).
    app = Starlette(routes=routes, exception_handlers={HTTPException: http_exception,
                                                       StateUnavailable: state_unavailable},
                    middleware=[Middleware(Guard, settings=settings)], lifespan=_lifespan(emulator))
    # Django answers /api/v2/models/ with a 404 (no APPEND_SLASH redirect for a path it lacks),
    # not with Starlette's bodiless 307. Paths without parameters are found by a dict lookup.
    app.router = StaticFirstRouter(routes=routes, redirect_slashes=False, lifespan=app.router.lifespan_context)
    app.state.emulator = emulator
    # Everything start-up built (specs, schemas, the catalog, fixtures) lives as long as the server:
    # out of the collector's sight, a full collection no longer walks it, which is what would pause
    # every request (~50 ms) while a large upload is being embedded in the ingestion thread.
    gc.freeze()
    return app


async def state_unavailable(request, exc: Exception) -> Response:
    """A Redis that went away, met outside an endpoint's own handling: a 503 naming it, never a 500."""
    assert isinstance(exc, StateUnavailable)
    return Response(dumps(exc.body()), status_code=exc.status, headers=dict(exc.headers),
                    media_type="application/json")


def _lifespan(emulator: Emulator):
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        ping = getattr(emulator.state, "ping", None)
        if ping is not None:
            await ping()  # a Redis that is down at start-up stops the worker, with the reason
        yield
        emulator.ingestion.close()
        emulator.files.lexical.close()
        await emulator.state.close()

    return lifespan
