"""The inspector's routes under the control API, built from explicit services.

    GET /_emulator/ui                   the page (open: it holds no data, it reads the views below)
    GET /_emulator/ui/{asset}           its script and style, shipped in this package
    GET /_emulator/info                 what the page needs to know first (open: no data): version,
                                        state backend, whether an admin token is needed, features
    GET /_emulator/journal/events       server-sent events: the journal's entries as they are
                                        written, on every worker (?after=SEQ: those after it first)
    GET /_emulator/files                the stored files with their ingestion status and progress
    GET /_emulator/files/{id}           one file, with its extracted text by page
    GET /_emulator/threads              the v3 threads with their turns (parts, tool calls, sources,
                                        progress, SSE events with their timing)

Every route but the page, its assets and info is behind ``--admin-token``, as the control API is;
the Host/Origin guard (emulator/guard.py) applies to all of them: the page is same-origin.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from ..config import Settings
from ..control_api import PREFIX, _json, _seq, admin_guard
from ..conversations.records import Conversations
from ..documents.ingestion import Ingestion
from ..documents.store import FileStore
from ..errors import NotFound, ParseError
from ..journal import Journal
from ..scripts.registry import Scripts
from ..state import Backend
from ..version import __version__
from .events import follow
from .views import Views

HERE = Path(__file__).resolve().parent
ASSETS = {"inspector.js": "text/javascript; charset=utf-8", "inspector.css": "text/css; charset=utf-8"}
# The page may only run its own script and style, and reach only its own origin.
POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
          "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def inspector_routes(*, journal: Journal, scripts: Scripts, files: FileStore, ingestion: Ingestion,
                     conversations: Conversations, state: Backend, settings: Settings,
                     features: Iterable[str] = ()) -> list[Route]:
    """The routes above. ``features`` names the optional panels the server has (``spaces``,
    ``recordings`` ...): the page shows a panel only when its feature is listed."""
    guarded = admin_guard(settings.admin_token)
    views = Views(files, ingestion, conversations)
    page = (HERE / "page.html").read_bytes()
    assets = {name: (HERE / name).read_bytes() for name in ASSETS}
    shown_features = sorted(set(features))
    headers = {"content-security-policy": POLICY, "x-content-type-options": "nosniff",
               "cache-control": "no-cache", "referrer-policy": "no-referrer"}

    async def ui(request: Request) -> Response:
        return Response(page, media_type="text/html; charset=utf-8", headers=headers)

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in assets:
            raise NotFound(f"No inspector asset {name!r} (assets: {', '.join(sorted(assets))}).")
        return Response(assets[name], media_type=ASSETS[name], headers=headers)

    async def info(request: Request) -> Response:
        await scripts.sync()
        return _json({"version": __version__, "state": state.kind, "admin_token": bool(settings.admin_token),
                      "strict": settings.strict, "features": shown_features,
                      "fixtures": len(scripts)})

    async def events(request: Request) -> Response:
        after = _seq(request.query_params, "after")
        if after is None:
            last = request.headers.get("last-event-id")
            after = int(last) if last and last.isdigit() else 0
        await journal.length()  # a backend that is down is a 503 before the stream starts
        return StreamingResponse(follow(journal, after), media_type="text/event-stream",
                                 headers={"cache-control": "no-cache", "x-accel-buffering": "no"})

    async def list_files(request: Request) -> Response:
        return _json(await views.files())

    async def one_file(request: Request) -> Response:
        text = request.path_params["file_id"]
        if not text.isdigit():
            raise ParseError(f"A file id is a whole number, got {text!r}.")
        found = await views.file(int(text))
        if found is None:
            raise NotFound(f"No file with id {text}.")
        return _json(found)

    async def threads(request: Request) -> Response:
        return _json(await views.threads())

    return [
        Route(PREFIX + "/ui", guarded(ui, open_=True), methods=["GET"]),
        Route(PREFIX + "/ui/{name}", guarded(asset, open_=True), methods=["GET"]),
        Route(PREFIX + "/info", guarded(info, open_=True), methods=["GET"]),
        Route(PREFIX + "/journal/events", guarded(events), methods=["GET"]),
        Route(PREFIX + "/files", guarded(list_files), methods=["GET"]),
        Route(PREFIX + "/files/{file_id}", guarded(one_file), methods=["GET"]),
        Route(PREFIX + "/threads", guarded(threads), methods=["GET"]),
    ]
