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
    GET /_emulator/spaces               the test spaces: companies, their users, their requests
    GET /_emulator/recordings           the recording folder's exchanges and the recorded fixtures

Every route but the page, its assets and info is behind ``--admin-token``, as the control API is,
or addressed to one key's test space with ``X-Emulator-Api-Key``: the journal stream, the files,
the threads and the spaces are then that space's alone. The Host/Origin guard (emulator/guard.py)
applies to all of them: the page is same-origin.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
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
from ..identity.directory import Users
from ..journal import Journal
from ..scripts.registry import Scripts
from ..spaces import Spaces
from ..state import Backend
from ..version import __version__
from .events import follow
from .recordings import RecordingsView
from .spaces_view import SpacesView, ids_of
from .views import Views

HERE = Path(__file__).resolve().parent
ASSETS = {"inspector.js": "text/javascript; charset=utf-8", "inspector.css": "text/css; charset=utf-8"}
# The page may only run its own script and style, and reach only its own origin.
POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
          "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def inspector_routes(*, journal: Journal, scripts: Scripts, files: FileStore, ingestion: Ingestion,
                     conversations: Conversations, state: Backend, settings: Settings, users: Users,
                     spaces: Spaces, features: Iterable[str] = ()) -> list[Route]:
    """The routes above. ``features`` names the optional panels the server has (``spaces``,
    ``recordings``): the page shows a panel only when its feature is listed (``recordings`` is
    also listed once recorded fixtures are loaded; the page adds ``spaces`` by itself when its
    journal shows two companies)."""
    guarded = admin_guard(settings.admin_token, spaces)
    views = Views(files, ingestion, conversations)
    spaces_view = SpacesView(journal, users, spaces)
    recordings = RecordingsView(scripts, settings.record, settings.upstream)
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
        listed = sorted({*shown_features, "recordings"}) if scripts.replays else shown_features
        return _json({"version": __version__, "state": state.kind, "admin_token": bool(settings.admin_token),
                      "strict": settings.strict, "features": listed,
                      "fixtures": len(scripts), "users": users.declared})

    async def events(request: Request) -> Response:
        after = _seq(request.query_params, "after")
        if after is None:
            last = request.headers.get("last-event-id")
            after = int(last) if last and last.isdigit() else 0
        await journal.length()  # a backend that is down is a 503 before the stream starts
        space = request.state.space
        keep: Callable[[bytes], bool] | None = None
        if space is not None:  # one space's view: its company's entries since its last reset
            after = max(after, await spaces.journal_after(space))
            company = int(space[1:])

            def of_company(raw: bytes) -> bool:
                return ids_of(raw)[1] == company

            keep = of_company

        return StreamingResponse(follow(journal, after, keep=keep), media_type="text/event-stream",
                                 headers={"cache-control": "no-cache", "x-accel-buffering": "no"})

    def company_of(request: Request) -> int | None:
        space = request.state.space
        return int(space[1:]) if space is not None else None

    async def list_files(request: Request) -> Response:
        return _json(await views.files(company_of(request)))

    async def one_file(request: Request) -> Response:
        text = request.path_params["file_id"]
        if not text.isdigit():
            raise ParseError(f"A file id is a whole number, got {text!r}.")
        found = await views.file(int(text), company_of(request))
        if found is None:
            raise NotFound(f"No file with id {text}.")
        return _json(found)

    async def threads(request: Request) -> Response:
        return _json(await views.threads(company_of(request)))

    async def list_spaces(request: Request) -> Response:
        return _json(await spaces_view.spaces(request.state.space))

    async def list_recordings(request: Request) -> Response:
        return _json(await recordings.recordings())

    return [
        Route(PREFIX + "/ui", guarded(ui, open_=True), methods=["GET"]),
        Route(PREFIX + "/ui/{name}", guarded(asset, open_=True), methods=["GET"]),
        Route(PREFIX + "/info", guarded(info, open_=True), methods=["GET"]),
        Route(PREFIX + "/journal/events", guarded(events), methods=["GET"]),
        Route(PREFIX + "/files", guarded(list_files), methods=["GET"]),
        Route(PREFIX + "/files/{file_id}", guarded(one_file), methods=["GET"]),
        Route(PREFIX + "/threads", guarded(threads), methods=["GET"]),
        Route(PREFIX + "/spaces", guarded(list_spaces), methods=["GET"]),
        Route(PREFIX + "/recordings", guarded(list_recordings), methods=["GET"]),
    ]
