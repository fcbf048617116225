"""The registry of fixtures, and the seam between a request and a scripted answer.

A handler asks ``emulator.scripts.match(call)`` for a ``Script``; when one matches,
``script.respond(context)`` returns an ``Answer`` (chat, completions: rendered like a
generated one, streamed or not), a list of vectors (embeddings), or a finished ``Response``
(a scripted HTTP error). With ``--strict`` an unmatched model call is an error that lists
the closest fixtures and why each did not match.

Fixtures come from files (``--fixtures-dir``: loaded at start-up, all or nothing, and
reloaded when a file changes, checked at most every ``reload_interval_s`` on the request
path) and from runtime additions (``add``, the control API, the pytest plugin), which
``reset`` removes. Matching order: files sorted by path, fixtures in file order, then
runtime ones in the order added; a higher ``priority`` is tried first.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from starlette.responses import Response

from .answer import Answer, Choice, StreamFault, Timing, ToolCall
from .controls import default_error_body, dropped_response, error_response
from .errors import ModelServerError
from .fixtures import Fixture, FixtureError, check_unique_names, compile_fixture, load_dirs, signature
from .generator import request_key
from .matching import OperationIndex, Prefilter, RequestView, render_template
from .tokenizer import tokenize

log = logging.getLogger("emulator.fixtures")
EFFECTS_ATTR = "emulator_effects"  # delay and headers a script leaves for `around` (embeddings, errors)
NEAR_MISSES = 3
PREFILTER_FROM = 16  # fewer fixtures are checked one by one faster than the prefilter's scan


@dataclass
class AnswerContext:
    call: Any  # routing.Call
    sampling: Any  # handlers.sampling.Sampling, or None for embeddings
    prompt_tokens: int
    generate: Callable[[], Any]  # what the generator would have answered


class Script(Protocol):
    name: str

    def respond(self, context: AnswerContext) -> Answer | Response | Any: ...


class Unmatched(ModelServerError):
    """--strict: no fixture matched a model call."""

    status = 404
    error_type = "NotFoundError"


@dataclass
class Effects:
    delay_ms: float = 0.0
    headers: dict[str, str] | None = None


class Scripts:
    """``emulator.scripts``: the fixtures in matching order, and the Python API over them."""

    def __init__(self, settings: Any, operations: list[Any]):
        self.strict = bool(settings.strict)
        self.settings = settings
        self.operations = OperationIndex(operations)
        self.reload_interval_s = 0.5
        self._lock = threading.RLock()
        self._roots: list[Path] = [Path(settings.fixtures_dir)] if settings.fixtures_dir else []
        self._files: list[Fixture] = load_dirs(self._roots, self.operations) if self._roots else []
        self._signature = signature(self._roots)
        self._next_check = time.monotonic() + self.reload_interval_s
        self._runtime: list[Fixture] = []
        self._added = 0
        # (fixtures in matching order, their candidates by operationId): replaced as one, so a request
        # that runs while a test thread adds a fixture never caches candidates of an old list.
        self._state: tuple[list[Fixture], dict[str, Any]] = ([], {})
        self._rebuild()

    # -- the Python API (the pytest plugin and the control API use it) -----------------------------

    def add(self, fixture: dict[str, Any]) -> str:
        """Add a fixture (a dict of the fixture format) after the others; -> its name. A runtime
        fixture with the same name is replaced in place."""
        return self.add_many([fixture])[0]

    def add_many(self, fixtures: list[Any]) -> list[str]:
        """Add several fixtures, all or none (a FixtureError names every broken one)."""
        with self._lock:
            compiled, problems = [], []
            for offset, raw in enumerate(fixtures):
                try:
                    name = f"fixture-{self._added + offset + 1}"
                    compiled.append(compile_fixture(raw, name, self.operations, path=(offset,)))
                except FixtureError as exc:
                    problems.append(str(exc))
            if problems:
                raise FixtureError("\n".join(problems))
            check_unique_names(compiled)
            file_names = {f.name: f for f in self._files}
            for fixture in compiled:
                if fixture.name in file_names:
                    raise FixtureError(f"fixture {fixture.name!r}: the name is taken by a fixture loaded "
                                       f"from {file_names[fixture.name].source}")
            self._added += len(compiled)
            for fixture in compiled:
                same = next((i for i, f in enumerate(self._runtime) if f.name == fixture.name), None)
                if same is None:
                    self._runtime.append(fixture)
                else:
                    self._runtime[same] = fixture
            self._rebuild()
            return [f.name for f in compiled]

    def remove(self, name: str) -> None:
        """Remove a runtime fixture; KeyError when there is none of that name (file fixtures stay:
        edit the file)."""
        with self._lock:
            for index, fixture in enumerate(self._runtime):
                if fixture.name == name:
                    del self._runtime[index]
                    self._rebuild()
                    return
            owner = next((f for f in self._files if f.name == name), None)
            if owner is not None:
                raise PermissionError(f"fixture {name!r} comes from {owner.source}: edit or delete the file")
            raise KeyError(name)

    def clear(self) -> int:
        """Remove every runtime fixture; -> how many."""
        with self._lock:
            count = len(self._runtime)
            self._runtime = []
            self._rebuild()
            return count

    def load_dir(self, path: str | Path, persistent: bool = False) -> list[str]:
        """Load every fixture file under ``path`` (all or nothing). By default they are runtime
        fixtures, which ``reset`` removes; ``persistent=True`` makes the folder a source like
        --fixtures-dir: kept across resets and reloaded when its files change."""
        root = Path(path)
        if not persistent:
            return self.add_loaded(load_dirs([root], self.operations))
        with self._lock:
            roots = [*self._roots, root] if root not in self._roots else self._roots
            files = load_dirs(roots, self.operations)
            self._roots, self._files, self._signature = roots, files, signature(roots)
            self._rebuild()
            return [f.name for f in files if f.source.startswith(str(root))]

    def add_loaded(self, fixtures: list[Fixture]) -> list[str]:
        with self._lock:
            names = {f.name for f in fixtures}
            self._runtime = [f for f in self._runtime if f.name not in names] + fixtures
            self._rebuild()
            return [f.name for f in fixtures]

    def list(self) -> list[dict[str, Any]]:
        """Every fixture, in matching order, as the format's dict plus name, source and uses."""
        return [fixture.describe() for fixture in self._state[0]]

    def reset(self) -> None:
        """Runtime fixtures gone, every sequence back to its first response."""
        with self._lock:
            self._runtime = []
            self._added = 0
            for fixture in self._files:
                fixture.reset()
            self._rebuild()

    def __len__(self) -> int:
        return len(self._state[0])

    # -- files ---------------------------------------------------------------------------------------

    def reload_if_changed(self) -> bool:
        """Reload the fixture files when one was added, removed or edited. A broken edit keeps the
        fixtures that were loaded and logs ``file:line: what is wrong``."""
        with self._lock:
            current = signature(self._roots)
            if current == self._signature:
                return False
            self._signature = current
            try:
                files = load_dirs(self._roots, self.operations)
            except FixtureError as exc:
                log.error("fixture files not reloaded, the previous ones stay in use:\n%s", exc)
                return False
            self._files = files
            self._rebuild()
            log.info("reloaded %d fixture(s) from %s", len(files), ", ".join(map(str, self._roots)))
            return True

    def _rebuild(self) -> None:
        # sorted() is stable: load order is kept among fixtures of the same priority.
        self._state = (sorted([*self._files, *self._runtime], key=lambda f: -f.priority), {})

    def _candidates(self, operation_id: str) -> tuple[list[Fixture], Prefilter | None]:
        ordered, by_operation = self._state
        found = by_operation.get(operation_id)
        if found is None:
            fixtures = [f for f in ordered if f.applies_to(operation_id, self.operations.answering)]
            found = (fixtures, Prefilter(fixtures) if len(fixtures) >= PREFILTER_FROM else None)
            by_operation[operation_id] = found
        return found

    # -- the request path ---------------------------------------------------------------------------

    def match(self, call: Any) -> ScriptedAnswer | None:
        if self._roots:
            now = time.monotonic()
            if now >= self._next_check:
                self._next_check = now + self.reload_interval_s
                self.reload_if_changed()
        operation_id = call.operation.operation_id
        candidates, prefilter = self._candidates(operation_id)
        raw = getattr(call, "raw_body", b"")
        if prefilter is not None and raw:  # a JSON body (form bodies have no raw bytes)
            candidates = prefilter.candidates(raw)
        if candidates:
            view = RequestView(call)
            for fixture in candidates:
                if fixture.exhausted or fixture.first_failure(view) is not None:
                    continue
                claimed = fixture.claim()
                if claimed is not None:
                    call.fixture = fixture.name
                    return ScriptedAnswer(fixture.name, *claimed, view, self.settings)
        if self.strict and operation_id in self.operations.answering:
            raise Unmatched(self.near_misses(call))
        return None

    def near_misses(self, call: Any) -> str:
        request = call.request
        head = (f"No fixture matches {request.method} {request.url.path} and the emulator runs with --strict "
                f"(unmatched model calls are errors).")
        fixtures = self._state[0]
        if not fixtures:
            return head + " No fixtures are loaded."
        view = RequestView(call)
        scored = sorted(((fixture.failures(view, self.operations.answering), order, fixture)
                         for order, fixture in enumerate(fixtures)), key=lambda t: (len(t[0]), t[1]))
        lines = [f"{number}. {fixture.name!r} ({fixture.source}): {'; '.join(failed) or 'matches'}"
                 for number, (failed, _, fixture) in enumerate(scored[:NEAR_MISSES], 1)]
        return f"{head} Closest fixtures: " + " ".join(lines)

    async def around(self, call: Any, handler: Callable[[Any], Awaitable[Response]]) -> Response:
        """Run the handler, then what a script left for it (a delay, headers). For an operation that is
        not a model call, a fixture naming it may answer instead: an error, headers, a delay."""
        if self._state[0] and call.operation.operation_id not in self.operations.answering:
            script = self.match(call)
            if script is not None and "error" in script.response:
                response = script.error_response(answering=False)
            else:
                if script is not None:
                    script.leave_effects(call)
                response = await handler(call)
        else:
            response = await handler(call)
        effects: Effects | None = call.__dict__.get(EFFECTS_ATTR)
        if effects is not None:
            if effects.delay_ms > 0:
                await asyncio.sleep(effects.delay_ms / 1000)
            for name, value in (effects.headers or {}).items():
                response.headers[name] = value
        return response


class ScriptedAnswer:
    """One use of a fixture: the response it gives to this call."""

    def __init__(self, name: str, use: int, response: dict[str, Any], view: RequestView, settings: Any):
        self.name, self.use, self.response, self.view, self.settings = name, use, response, view, settings

    def respond(self, context: AnswerContext) -> Answer | Response | list[list[float]]:
        call, r = context.call, self.response
        call.fixture = self.name
        if "error" in r:
            return self.error_response(answering=True)
        if context.sampling is None:  # embeddings
            self.leave_effects(call)
            if "embeddings" in r:
                return [[float(x) for x in vector] for vector in r["embeddings"]]
            return context.generate()
        return self.answer(context)

    def headers(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in (self.response.get("headers") or {}).items()}

    def leave_effects(self, call: Any) -> None:
        if self.response.get("delay_ms") or self.response.get("headers"):
            call.__dict__[EFFECTS_ATTR] = Effects(self.response.get("delay_ms", 0.0), self.headers())

    def error_response(self, answering: bool) -> Response:
        error = self.response["error"]
        status = error["status"]
        headers = {**self.headers(), **{str(k): str(v) for k, v in (error.get("headers") or {}).items()}}
        retry_after = _seconds(headers.get("Retry-After") or headers.get("retry-after"))
        if "body" in error:
            body = error["body"]
        else:
            body = default_error_body(status, answering, retry_after=retry_after)
        if self.response.get("delay_ms"):
            self.view.call.__dict__[EFFECTS_ATTR] = Effects(self.response["delay_ms"], None)
        return error_response(status, body, headers)

    def answer(self, context: AnswerContext) -> Answer | Response:
        r, sampling, view = self.response, context.sampling, self.view
        chat = bool(view.messages) or "messages" in view.body
        if "content" in r or "chunks" in r or "tool_calls" in r:
            if "chunks" in r:
                pieces = tuple(render_template(chunk, view) for chunk in r["chunks"])
            else:
                pieces = tuple(tokenize(render_template(r.get("content", ""), view)))
            choices = []
            for index in range(sampling.n):
                calls = self.tool_calls(index) if chat else ()
                finish = r.get("finish_reason") or ("tool_calls" if calls else "stop")
                choices.append(Choice(index=index, pieces=pieces, finish_reason=finish, tool_calls=calls))
            answer = Answer(tuple(choices), context.prompt_tokens)
        else:
            answer = context.generate()
            if "finish_reason" in r:
                answer = replace(answer, choices=tuple(replace(c, finish_reason=r["finish_reason"])
                                                       for c in answer.choices))
        stream = r.get("stream") or {}
        if "drop_after" in stream and not sampling.stream:
            return dropped_response()
        delays = tuple(float(d) for d in r["chunk_delays_ms"]) if "chunk_delays_ms" in r else None
        delay = float(r.get("delay_ms", 0.0))
        if delays and not sampling.stream:
            delay += sum(delays)  # not streamed, the body comes when its last chunk would have
        timing = Timing(ttft_ms=float(r.get("ttft_ms", self.settings.ttft_ms)),
                        itl_ms=float(r.get("itl_ms", self.settings.itl_ms)),
                        chunk_delays_ms=delays, delay_ms=delay)
        fault = StreamFault(**stream) if stream else None
        usage = None
        if "usage" in r:
            counted = answer.usage_dict()
            usage = {**counted, **r["usage"]}
            if "total_tokens" not in r["usage"]:
                usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        return replace(answer, timing=timing, fault=fault, usage=usage, headers=self.headers())

    def tool_calls(self, choice_index: int) -> tuple[ToolCall, ...]:
        calls = []
        for number, spec in enumerate(self.response.get("tool_calls") or ()):
            arguments = spec.get("arguments", {})
            if isinstance(arguments, str):
                text = render_template(arguments, self.view)
            else:
                text = json.dumps(_render_strings(arguments, self.view), ensure_ascii=False)
            call_id = spec.get("id") or "chatcmpl-tool-" + request_key(
                self.name, self.use, choice_index, number, self.view.body).hex()[:32]
            calls.append(ToolCall(id=call_id, name=spec["name"], arguments=text))
        return tuple(calls)


def _render_strings(value: Any, view: RequestView) -> Any:
    if isinstance(value, str):
        return render_template(value, view)
    if isinstance(value, dict):
        return {k: _render_strings(v, view) for k, v in value.items()}
    if isinstance(value, list):
        return [_render_strings(v, view) for v in value]
    return value


def _seconds(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None
