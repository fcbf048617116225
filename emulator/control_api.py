"""The control API under /_emulator: drive a running emulator from a test in any language.

    GET    /_emulator/health             {"status": "ok", "version", "fixtures", "journal", "pid", "state"}
    GET    /_emulator/fixtures           {"fixtures": [...]} in matching order
    POST   /_emulator/fixtures           one fixture, a list, or {"fixtures": [...]}; JSON or YAML
    DELETE /_emulator/fixtures           remove every runtime fixture
    DELETE /_emulator/fixtures/{name}    remove one
    GET    /_emulator/journal            {"requests": [...]} newest first (?before=SEQ: the page after
                                         this one), or oldest first from ?after=SEQ; ?limit=, ?path=
                                         (prefix), ?operation= (chat, turn, a path, an operationId ...),
                                         ?status=. Streamed.
    DELETE /_emulator/journal            empty the journal
    POST   /_emulator/reset              journal, runtime fixtures, sequences, stores: back to start-up

With ``X-Emulator-Api-Key: KEY`` every route but health addresses that key's test space only
(emulator/spaces.py): its fixtures, its journal (also ``?user=``, ``?company=`` for anyone), its reset.

With --admin-token every route but health needs ``X-Emulator-Admin-Token`` (or a key's
``X-Emulator-Api-Key``, for that key's space alone). These routes are
outside the OpenAPI specs and outside the journal: driving the emulator is not using it.
"""

from __future__ import annotations

import hmac
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from .call import error_response, json_response
from .config import Settings
from .errors import ApiError, AuthenticationFailed, NotAuthenticated, NotFound, ParseError
from .journal import Journal, with_seq
from .scripts.loading import FixtureError
from .scripts.registry import Scripts
from .spaces import Spaces
from .state import Backend
from .tap import shown
from .version import __version__
from .yaml_reader import YamlError, load_yaml

PREFIX = "/_emulator"
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")


class Conflict(ApiError):
    status = 409


def _json(body: Any, status: int = 200) -> Response:
    # default=str: a YAML fixture may hold dates and the like, which JSON has no type for.
    return json_response(body, status, default=str)


Endpoint = Callable[[Request], Awaitable[Response]]


def admin_guard(token: str | None, spaces: Spaces | None = None) -> Callable[..., Endpoint]:
    """``guarded(endpoint, open_=False)``: the endpoint behind ``--admin-token`` (unless ``open_``),
    its ``ApiError``s answered as JSON. Every ``/_emulator`` route is wrapped in one. With ``spaces``
    a request may instead name an API key in ``X-Emulator-Api-Key``: it then addresses that key's
    test space alone (``request.state.space``; None: every space, the admin's view)."""

    def guarded(endpoint: Endpoint, open_: bool = False) -> Endpoint:
        async def guard(request: Request) -> Response:
            try:
                if spaces is not None:
                    user = None if open_ else spaces.addressed(request)
                    request.state.space = user.space if user is not None else None
                elif token and not open_:
                    given = request.headers.get("x-emulator-admin-token")
                    if given is None:
                        raise NotAuthenticated("The control API needs the X-Emulator-Admin-Token header "
                                               "(the emulator runs with --admin-token).")
                    if not hmac.compare_digest(given.encode(), token.encode()):
                        raise AuthenticationFailed("Wrong X-Emulator-Admin-Token.")
                return await endpoint(request)
            except ApiError as exc:
                return error_response(exc)

        return guard

    return guarded


def control_routes(scripts: Scripts, requests: Journal, state: Backend,
                   reset_all: Callable[[], Awaitable[None]], settings: Settings,
                   spaces: Spaces) -> list[Route]:
    guarded = admin_guard(settings.admin_token, spaces)
    recorded = requests  # the journal (the name `journal` is its route's)

    async def health(request: Request) -> Response:
        await scripts.sync()
        return _json({"status": "ok", "version": __version__, "fixtures": len(scripts),
                      "journal": await recorded.length(), "pid": os.getpid(),
                      "state": state.kind})

    async def list_fixtures(request: Request) -> Response:
        return _json({"fixtures": await scripts.all(request.state.space)})

    async def add_fixtures(request: Request) -> Response:
        document = await _read_document(request, scripts.max_bytes)
        if isinstance(document, dict) and set(document) == {"fixtures"}:
            document = document["fixtures"]
        fixtures = document if isinstance(document, list) else [document]
        if not fixtures or not all(isinstance(f, dict) for f in fixtures):
            raise ParseError("Expected a fixture (a mapping), a list of fixtures, or {\"fixtures\": [...]}.")
        try:
            names = await scripts.add_many(fixtures, space=request.state.space)
        except FixtureError as exc:
            raise ParseError(str(exc)) from None
        except RecursionError:  # a YAML alias that contains itself
            raise ParseError("The fixture document is nested too deeply (or refers to itself).") from None
        return _json({"added": names}, 201)

    async def clear_fixtures(request: Request) -> Response:
        return _json({"deleted": await scripts.clear(request.state.space)})

    async def delete_fixture(request: Request) -> Response:
        name = request.path_params["name"]
        try:
            await scripts.remove(name, request.state.space)
        except PermissionError as exc:
            raise Conflict(str(exc)) from None
        except KeyError:
            fixtures = await scripts.all(request.state.space)
            known = ", ".join(repr(f["name"]) for f in fixtures) or "none"
            raise NotFound(f"No fixture named {name!r} (fixtures: {known}).") from None
        return _json({"deleted": name})

    async def journal(request: Request) -> Response:
        query = request.query_params
        limit = _limit(query.get("limit"))
        status = _status(query.get("status"))
        after, before = _seq(query, "after"), _seq(query, "before")
        newest_first = after is None
        path, operation = query.get("path"), query.get("operation")
        user_id, company_id = _id(query, "user"), _id(query, "company")
        space = request.state.space
        if space is not None:  # one test space's view: its company's entries since its last reset
            company_id = int(space[1:])
            after = max(after or 0, await spaces.journal_after(space))
        # The names fixtures and assert_called take ("chat", a path, an operationId); unknown -> 400.
        operation_ids = scripts.operations.resolve_or_400(operation) if operation else None
        filtered = bool(path or operation_ids is not None or status is not None or user_id is not None
                        or company_id is not None)
        pages = recorded.pages(after=after, before=before, newest_first=newest_first)
        # Read before the status is sent: a Redis that is down is a 503.
        first: list[tuple[int, bytes]] = await anext(pages, [])

        def wanted(raw: bytes) -> bool:
            if not filtered:
                return True
            entry = json.loads(shown(raw))
            return ((not path or entry["path"].startswith(path))
                    and (operation_ids is None or entry["operation_id"] in operation_ids)
                    and (status is None or entry["status"] == status)
                    and (user_id is None or entry.get("user") == user_id)
                    and (company_id is None or entry.get("company") == company_id))

        async def body() -> AsyncIterator[bytes]:
            # A page at a time, from the stored bytes: a full journal is never built in memory at once,
            # and the loop serves other requests between the backend's pages.
            yield b'{"requests":['
            sent, batch = 0, first
            try:
                while batch and (limit is None or sent < limit):
                    parts = []
                    for seq, raw in batch:
                        if limit is not None and sent >= limit:
                            break
                        if wanted(raw):
                            parts.append(with_seq(seq, raw))
                            sent += 1
                    if parts:
                        yield (b"," if sent > len(parts) else b"") + b",".join(parts)
                    batch = await anext(pages, [])
            finally:
                await pages.aclose()
            yield b"]}"

        return StreamingResponse(body(), media_type="application/json")

    async def clear_journal(request: Request) -> Response:
        if request.state.space is not None:
            return _json({"deleted": await spaces.clear_journal(request.state.space)})
        return _json({"deleted": await recorded.clear()})

    async def reset(request: Request) -> Response:
        if request.state.space is not None:
            return _json(await spaces.reset(request.state.space))
        await reset_all()
        return _json({"reset": True})

    return [
        Route(PREFIX + "/health", guarded(health, open_=True), methods=["GET"]),
        Route(PREFIX + "/fixtures", guarded(list_fixtures), methods=["GET"]),
        Route(PREFIX + "/fixtures", guarded(add_fixtures), methods=["POST"]),
        Route(PREFIX + "/fixtures", guarded(clear_fixtures), methods=["DELETE"]),
        Route(PREFIX + "/fixtures/{name:path}", guarded(delete_fixture), methods=["DELETE"]),
        Route(PREFIX + "/journal", guarded(journal), methods=["GET"]),
        Route(PREFIX + "/journal", guarded(clear_journal), methods=["DELETE"]),
        Route(PREFIX + "/reset", guarded(reset), methods=["POST"]),
    ]


async def _read_document(request: Request, max_bytes: int) -> Any:
    chunks, size = [], 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            raise ParseError(f"A fixture document may not exceed --max-fixture-mb "
                             f"{max_bytes / 1024 / 1024:g} MB.")
    raw = b"".join(chunks)
    if not raw.strip():
        raise ParseError("Empty body: send a fixture as JSON or YAML.")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ParseError("The body is not UTF-8 text.") from None
    if content_type not in YAML_TYPES:
        try:
            return json.loads(text)
        except ValueError as exc:
            if content_type == "application/json":
                raise ParseError(f"JSON parse error - {exc}") from None
    try:
        return load_yaml(text, "body", max_bytes)[0]  # aliases are counted as expanded (--max-fixture-mb)
    except YamlError as exc:
        message = str(exc)
        if ": not valid YAML: " in message:
            line, problem = message.split(": not valid YAML: ", 1)
            message = f"YAML parse error (line {line.rsplit(':', 1)[-1]}) - {problem}"
        raise ParseError(message) from None


def _limit(text: str | None) -> int | None:
    if text is None:
        return None
    if not text.isdigit() or int(text) < 1:
        raise ParseError(f"limit must be a whole number >= 1, got {text!r}.")
    return int(text)


def _seq(query: Any, name: str) -> int | None:
    text = query.get(name)
    if text is None:
        return None
    if not text.isdigit():
        raise ParseError(f"{name} must be a journal seq (a whole number >= 0), got {text!r}.")
    return int(text)


def _id(query: Any, name: str) -> int | None:
    text = query.get(name)
    if text is None:
        return None
    if not text.isdigit():
        raise ParseError(f"{name} must be a {name} id (a whole number), got {text!r}.")
    return int(text)


def _status(text: str | None) -> int | None:
    if text is None:
        return None
    if not text.isdigit():
        raise ParseError(f"status must be an HTTP status code, got {text!r}.")
    return int(text)
