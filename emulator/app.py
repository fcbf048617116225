"""create_app(settings) -> Starlette: the composition root, the one module that knows everything.

It builds the state backend, the stores, the services, the pipeline's stages and the handlers,
each given exactly what it uses; nothing below it reaches the whole application. Start-up does
all the slow work (YAML, schema compilation, the model catalog, fixtures) so that a request
only touches compiled objects in memory.
"""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

from .answer import Timing
from .call import Handler, error_response
from .catalog import Catalog
from .config import Settings, from_env
from .control_api import control_routes
from .controls import HeaderControls, quiet_dropped_streams
from .conversations.directory import AgentDirectory
from .conversations.feedbacks import FeedbackStore
from .conversations.records import Conversations
from .conversations.scope import DocumentScope
from .conversations.turns import TurnService
from .conversations.users import UserSettings
from .delivery import Deliver, Source
from .documents.analyses import AnalysisStore
from .documents.ingestion import Ingestion
from .documents.retrieval import Retrieval
from .documents.store import FileStore
from .documents.upload_sessions import UploadSessionStore
from .documents.workspace_store import WorkspaceStore
from .errors import StartupError, StateUnavailable
from .guard import Guard
from .handlers import handler_table
from .handlers.agent_files import AgentFiles
from .handlers.agents import Agents
from .handlers.analysis import Analyses
from .handlers.artifacts import Artifacts
from .handlers.chat import Chat
from .handlers.chunks import Chunks
from .handlers.completions import Completions
from .handlers.embeddings import Embeddings
from .handlers.feedback import Feedback
from .handlers.files import Files
from .handlers.files_v3 import FilesV3
from .handlers.mcp import Mcp
from .handlers.models import Models
from .handlers.retrieve import Retrieve
from .handlers.threads import Threads
from .handlers.tools import Tools
from .handlers.upload_sessions import UploadSessions
from .handlers.workspaces import Workspaces
from .identity.directory import Users
from .identity.stage import STEP_NAME as IDENTIFY
from .identity.stage import Identify
from .inspector import inspector_routes
from .journal import Journal
from .limits.stage import STEP_NAME as LIMITS
from .limits.stage import RateLimiter
from .limits.windows import MemoryWindows
from .memo import AnswerMemo
from .metrics import Metrics
from .operations import OperationNames
from .pipeline import RATE_LIMITS_AFTER, ControlStage, Match, Pipeline, Step, Validate
from .routing import ApiFirst, StaticFirstRouter, build_routes, http_exception
from .sampling import ModelLookup
from .scripts.registry import Scripts
from .spaces import SpaceItems, Spaces
from .spec import Operation, Spec, load_specs
from .stack import release_freed_memory
from .state import Backend
from .state.memory import MemoryBackend
from .team import Observe, after_first, team_routes
from .upstream.proxy import Upstream, build_upstream
from .upstream.sources import RecordingSource, UpstreamSource

log = logging.getLogger("emulator")


class Emulator:
    """What one running emulator holds: built here, reset and closed here. Tests reach it in process
    (``app.state.emulator``); no request carries it."""

    def __init__(self, settings: Settings, sources: Iterable[Source] = ()):
        self.settings = settings
        # Everything that must be the same on every worker lives here (see emulator/state).
        self.state: Backend = _named(lambda: open_backend(settings))
        self.specs: list[Spec] = load_specs(settings.spec_dir)
        self.operations: list[Operation] = [op for spec in self.specs for op in spec.operations]
        self.names = OperationNames(self.operations)
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
        # Users (each key one, or --users), their test spaces, rate limits and metrics (docs/team.md).
        self.users = Users.load(settings.users)
        # Files (v2 and v3 share them), the workspaces and tags they live in (per user and company), and
        # their ingestion.
        self.workspaces = _named(lambda: WorkspaceStore.load(self.state, settings, self.users))
        self.files = FileStore(self.state, epoch=settings.epoch, members=self.workspaces)
        embedders = [m.dimensions for m in self.catalog.models if m.kind == "embedding" and m.dimensions]
        # Files are records of the backend: --data-dir (memory) or Redis keeps them, nothing to load.
        self.ingestion = Ingestion(self.files, settings, embedders[0] if embedders else 1024)
        # v3 agents (seeded from fixtures/agents.yaml), threads and turns: records of self.state.
        self.agents = AgentDirectory.load(settings.agents_file, settings.epoch, self.state)
        self.conversations = Conversations(self.state, settings.seed, settings.epoch)
        # The search every document tool runs, and what a turn reads of the files through it.
        self.retrieval = Retrieval(self.files, self.ingestion)
        self.document_scope = DocumentScope(self.files, self.workspaces, self.retrieval)
        # The MCP servers the agents file declares (their tools scripted there) and the created ones.
        self.mcp = self.agents.mcp
        self.turns = TurnService(self.conversations, self.agents, self.catalog, self.state, settings,
                                 self.document_scope, self.mcp)
        # --upstream: requests no fixture matches are forwarded there (and recorded with --record).
        self.upstream: Upstream | None = build_upstream(settings)
        # Their test spaces, rate limits and metrics (docs/team.md).
        self.metrics = Metrics(self.names.resolve("turn") or frozenset(), self.ingestion.in_progress)
        self.limiter = RateLimiter(settings, self.catalog, self.state, self.names,
                                   on_reject=self.metrics.rejected)
        self.upload_sessions = UploadSessionStore(self.state, settings.seed, settings.epoch)
        self.analyses = AnalysisStore(self.state)
        items = SpaceItems(self.files, self.conversations, self.upload_sessions, self.analyses,
                           self.workspaces, self.agents)
        self.spaces = Spaces(self.state, self.users, self.scripts, self.limiter, items, settings.admin_token)
        if isinstance(self.limiter.windows, MemoryWindows):  # a reset clears Redis's windows with the rest
            self.scripts.on_reset.append(after_first(self.limiter.windows.forget))
        # The stages every API request runs through (emulator/pipeline.py), each built with what it uses.
        match = Match(self.scripts)
        # Answered before the handler: a recorded exchange replayed as it was, else the upstream (when
        # one is configured) for every call no fixture matched; then any source create_app was given.
        before_handler: list[Source] = [RecordingSource(settings.replay_speed)]
        if self.upstream is not None:
            before_handler.append(UpstreamSource(self.upstream))
        self.pipeline = Pipeline((
            Step("observe", Observe(self.metrics), operations=self.metrics.turn_operations),
            # With an upstream, the upstream authenticates (its keys are not the emulator's).
            Step("validate", Validate(settings.api_keys, local_keys=self.upstream is None)),
            Step(IDENTIFY, Identify(self.users)),
            Step("controls", ControlStage(self.controls)),
            Step("match", match),
            Step("deliver", Deliver(self.memo, self.controls, match, (*before_handler, *sources))),
        ), self.journal, finished=(self.limiter, self.metrics))
        self.pipeline.insert(Step(LIMITS, self.limiter, operations=self.limiter.limited),
                             after=RATE_LIMITS_AFTER)

    def handlers(self) -> dict[str, Handler]:
        """operationId -> handler: every resource, built with the services its handlers read."""
        models, settings, state = ModelLookup(self.catalog), self.settings, self.state
        return handler_table(
            Chat(models, settings, self.pace),
            Completions(models, settings, self.pace),
            Embeddings(models, settings),
            Models(self.catalog, settings.epoch),
            Threads(self.turns, state, settings.turn_wait_ms),
            Files(self.files, self.ingestion, self.workspaces, settings),
            FilesV3(self.files, self.ingestion, self.workspaces, self.retrieval, settings),
            Workspaces(self.files, self.workspaces),
            Tools(self.files, self.workspaces, self.retrieval, self.catalog, settings),
            Chunks(self.files, self.ingestion, self.retrieval, self.catalog),
            Retrieve(self.files, self.ingestion, self.workspaces, self.retrieval),
            UploadSessions(self.upload_sessions, self.files,
                           self.ingestion, self.workspaces, settings),
            Analyses(self.analyses, self.files, self.ingestion, self.catalog, state, settings),
            Agents(self.agents, self.workspaces, self.document_scope, self.mcp, UserSettings(state)),
            AgentFiles(self.agents, self.files, self.ingestion, self.workspaces, self.retrieval),
            Mcp(self.mcp),
            Artifacts(self.conversations, state),
            Feedback(FeedbackStore(state), settings.epoch),
        )

    async def reset(self) -> None:
        """Back to the state at start-up, for every worker at once: the whole backend (journal,
        runtime fixtures, use counters, files, workspaces and tags ...) is cleared, and a new
        generation tells every worker's local caches (compiled fixtures, the memo) to go. (The
        fixtures' workspaces and tags come back at their next use; cached vectors and the lexical
        index are keyed on each upload's nonce, so nothing stale is ever read from them.)"""
        await self.state.clear()
        await self.scripts.reset()
        self.memo.clear()

    async def close(self) -> None:
        self.ingestion.close()
        self.files.lexical.close()
        if self.upstream is not None:
            await self.upstream.close()
        await self.state.close()


def _named(build: Callable[[], Any]) -> Any:
    """A store snapshot (--data-dir) or the workspaces YAML that cannot be read stops start-up, named."""
    try:
        return build()
    except (ValueError, OSError) as exc:
        raise StartupError(str(exc)) from exc


def open_backend(settings: Settings) -> Backend:
    """Redis when --redis-url is given (shared by every worker and replica), else this process's memory
    (made durable in --data-dir when given)."""
    if settings.redis_url:
        from .state.redis import RedisBackend  # imported only when used: the memory default needs no client

        return RedisBackend(settings.redis_url, settings.redis_prefix, settings.epoch,
                            mark_start=settings.mark_redis_start)
    return MemoryBackend(settings.data_dir)


def create_app_from_env() -> Starlette:
    """The app factory of ``serve --workers N``: each worker process builds its app from the
    ``PARADIGM_EMULATOR_*`` variables the CLI set from its flags."""
    release_freed_memory()
    return create_app(from_env())


def create_app(settings: Settings | None = None, *, extra_steps: Iterable[Step] = (),
               sources: Iterable[Source] = ()) -> Starlette:
    """The app. ``extra_steps`` go into the pipeline after the control headers (``RATE_LIMITS_AFTER``),
    in the order given; ``sources`` answer before the handler, after the memo (``delivery``)."""
    settings = settings or Settings()
    emulator = Emulator(settings, sources)
    anchor = RATE_LIMITS_AFTER
    for step in extra_steps:
        emulator.pipeline.insert(step, after=anchor)
        anchor = step.name
    # The API first: its routes are the hot path, and Starlette tries routes in order.
    routes = build_routes(emulator.operations, emulator.handlers(), emulator.pipeline, emulator.names,
                          settings)
    routes += control_routes(emulator.scripts, emulator.journal, emulator.state, emulator.reset, settings,
                             emulator.spaces)
    routes += team_routes(emulator.spaces, emulator.limiter, emulator.metrics, settings)
    # The inspector page and its views (emulator/inspector): features name the optional panels it shows.
    routes += inspector_routes(journal=emulator.journal, scripts=emulator.scripts, files=emulator.files,
                               ingestion=emulator.ingestion, conversations=emulator.conversations,
                               state=emulator.state, settings=settings, users=emulator.users,
                               spaces=emulator.spaces, features=inspector_features(emulator))
    quiet_dropped_streams()
    # Host, Origin and control-API media types are checked before any route (emulator/guard.py).
    app = Starlette(routes=routes, exception_handlers={HTTPException: http_exception,
                                                       StateUnavailable: state_unavailable},
                    middleware=[Middleware(Guard, settings=settings), Middleware(ApiFirst, routes=routes)],
                    lifespan=_lifespan(emulator))
    # Django answers /api/v2/models/ with a 404 (no APPEND_SLASH redirect for a path it lacks),
    # not with Starlette's bodiless 307. Paths without parameters are found by a dict lookup.
    app.router = StaticFirstRouter(routes=routes, redirect_slashes=False,
                                   lifespan=app.router.lifespan_context)
    app.state.emulator = emulator
    # Everything start-up built (specs, schemas, the catalog, fixtures) lives as long as the server:
    # out of the collector's sight, a full collection no longer walks it, which is what would pause
    # every request (~50 ms) while a large upload is being embedded in the ingestion thread.
    gc.freeze()
    return app


def inspector_features(emulator: Emulator) -> tuple[str, ...]:
    """The inspector's optional panels this server has: the spaces when keys are declared or an admin
    token shares the emulator, the recordings when it proxies, records or replays."""
    settings = emulator.settings
    features = []
    if settings.users or settings.admin_token:
        features.append("spaces")
    if settings.upstream or settings.record or emulator.scripts.replays:
        features.append("recordings")
    return tuple(features)


async def state_unavailable(request: Request, exc: Exception) -> Response:
    """A Redis that went away, met outside an endpoint's own handling: a 503 naming it, never a 500."""
    assert isinstance(exc, StateUnavailable)
    return error_response(exc)


def _lifespan(emulator: Emulator) -> Callable[[Starlette], contextlib.AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        ping = getattr(emulator.state, "ping", None)
        if ping is not None:
            await ping()  # a Redis that is down at start-up stops the worker, with the reason
        yield
        await emulator.close()

    return lifespan
