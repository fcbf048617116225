"""Per-request cost, stage by stage, in process: what auth, validation, control headers, fixture
match, delivery, the journal and the ASGI layers around them each take.

    .venv/bin/python bench/fixed_cost.py [--requests 3000] [--rounds 5] [--root DIR] [--rpm N --tpm N]

Builds the app (``create_app``, default settings, memory backend) and drives it as uvicorn would,
with no socket: one ASGI ``scope``/``receive``/``send`` per request, awaited one after another.
Each pipeline stage is wrapped in a timer, as are the journal's ``record`` (entry encoding and
the backend append), each after-answer hook (``after <name>``: the metrics, the rate limiter's
token correction) and the whole call; what is left of the whole after the stages is the
routing, the ``Guard`` middleware, the ``Call`` and the response's own sending. Figures are CPU
microseconds a request (``time.thread_time``: another process on the machine does not inflate
them), the median of ``--rounds`` rounds. Reading that clock costs about a microsecond, and the
stages take 18 readings a request: "whole, stages untimed" is the same requests again (new bodies
for the cases that need them) without the stage timers, the figure to compare with a bare app.

Cases: chat (a new body every request, and the same body: the memo), embeddings (new bodies),
models, a chat stream of 256 tokens, a v3 turn (new bodies). ``--root DIR`` runs the
``emulator`` package of another checkout (before/after in one sitting); ``--rpm``/``--tpm`` set
the rate limits (a huge figure admits every call: what counting them costs), ``--without-team``
takes the team stages out as ``bench/team_off.py`` does.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

KEY = "bench-key"
CHAT = {"model": "alfred-4.2", "messages": [{"role": "user", "content": "Hello %d!"}], "max_tokens": 16}
STREAM = {"model": "alfred-4.2", "messages": [{"role": "user", "content": "Tell me a story %d"}],
          "max_tokens": 256, "ignore_eos": True, "stream": True}
EMBED = {"model": "multilingual-e5-large", "input": "Text to embed %d"}
TURN = {"query": "Hello %d!"}
# name, method, path, body template (%d: the request's number), whether every body is new
CASES: list[tuple[str, str, str, dict[str, Any] | None, bool]] = [
    ("chat, new bodies", "POST", "/api/v2/chat/completions", CHAT, True),
    ("chat, same body (memo)", "POST", "/api/v2/chat/completions", CHAT, False),
    ("embeddings, new bodies", "POST", "/api/v2/embeddings", EMBED, True),
    ("embeddings, same body (memo)", "POST", "/api/v2/embeddings", EMBED, False),
    ("models", "GET", "/api/v2/models", None, False),
    ("chat stream, 256 tokens", "POST", "/api/v2/chat/completions", STREAM, False),
    ("v3 turn, new bodies", "POST", "/api/v3/threads/turns", TURN, True),
]
Timings = dict[str, float]


class Timed:
    """A stage (or the journal's record) whose CPU time is added to ``into[name]`` (while ``on``:
    each reading of the thread's clock costs ~1 µs here, 18 of them a request)."""

    on = True

    def __init__(self, name: str, run: Callable[..., Awaitable[Any]], into: Timings):
        self.name, self.run, self.into = name, run, into

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not Timed.on:
            return await self.run(*args, **kwargs)
        started = time.thread_time()
        try:
            return await self.run(*args, **kwargs)
        finally:
            self.into[self.name] += time.thread_time() - started


class TimedHook:
    """An after-answer hook whose ``finished`` is timed as ``after <its class>``."""

    def __init__(self, hook: Any, into: Timings):
        self.hook, self.into = hook, into
        self.name = f"after {type(hook).__name__}"

    async def finished(self, *args: Any) -> None:
        started = time.thread_time()
        try:
            await self.hook.finished(*args)
        finally:
            self.into[self.name] += time.thread_time() - started


def build(root: Path, rpm: int | None, tpm: int | None, without_team: bool) -> tuple[Any, Timings]:
    sys.path.insert(0, str(root))
    from emulator.app import create_app
    from emulator.config import Settings

    settings = Settings()
    if rpm is not None or tpm is not None:  # an older checkout (--root) has no limits to set
        settings = dataclasses.replace(settings, rpm=rpm, tpm=tpm)
    app = create_app(settings)
    emulator = app.state.emulator
    into: Timings = defaultdict(float)
    pipeline = emulator.pipeline
    if without_team:  # as bench/team_off.py serves it
        for name in ("observe", "identify", "limits"):
            pipeline.remove(name)
        pipeline.finished = ()
    # Delivery is timed apart from the journal: the journal runs from respond, after the stages.
    pipeline.steps = tuple(dataclasses.replace(step, run=Timed(step.name, step.run, into))
                           for step in pipeline.steps)
    # An older checkout (--root) may keep its journal elsewhere: its record is then inside the rest.
    journal = getattr(pipeline, "journal", None)
    if journal is not None:
        journal.record = Timed("journal", journal.record, into)
    if getattr(pipeline, "finished", None):
        pipeline.finished = tuple(TimedHook(hook, into) for hook in pipeline.finished)
    return app, into


async def one(app: Any, method: str, path: str, body: bytes) -> int:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
             "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
             "headers": [(b"host", b"127.0.0.1:8000"), (b"authorization", f"Bearer {KEY}".encode()),
                         (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                         (b"user-agent", b"fixed-cost/1")],
             "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000), "state": {}}
    sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)  # no disconnect while the response goes out
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def measure(app: Any, into: Timings, case: tuple[str, str, str, dict[str, Any] | None, bool],
                  requests: int, start: int) -> Timings:
    _, method, path, template, new = case
    text = json.dumps(template) if template is not None else ""
    into.clear()
    total = 0.0
    for i in range(requests):
        body = (text % (start + i if new else 0)).encode() if text else b""
        began = time.thread_time()
        status = await one(app, method, path, body)
        total += time.thread_time() - began
        if status != 200:
            raise SystemExit(f"{case[0]}: status {status}")
    figures = {name: 1e6 * seconds / requests for name, seconds in into.items()}
    figures["whole request"] = 1e6 * total / requests
    figures["outside the stages"] = figures["whole request"] - sum(
        v for k, v in figures.items() if k != "whole request")
    # The same requests again with the stages untimed: the whole without the timers' own cost.
    Timed.on = False
    try:
        total = 0.0
        for i in range(requests):
            body = (text % (start + requests + i if new else 0)).encode() if text else b""
            began = time.thread_time()
            await one(app, method, path, body)
            total += time.thread_time() - began
    finally:
        Timed.on = True
    figures["whole, stages untimed"] = 1e6 * total / requests
    return figures


async def run(args: argparse.Namespace) -> None:
    app, into = build(Path(args.root).resolve(), args.rpm, args.tpm, args.without_team)
    async with app.router.lifespan_context(app):
        for case in CASES:
            if args.only and args.only not in case[0]:
                continue
            requests = max(50, args.requests // 20) if "stream" in case[0] else args.requests
            await measure(app, into, case, min(200, requests), 10**7)  # warm up: caches, first imports
            rounds = [await measure(app, into, case, requests, 10**8 * (r + 1)) for r in range(args.rounds)]
            names = list(rounds[0])
            print(f"{case[0]} ({requests} requests x {args.rounds} rounds, CPU us a request, median)")
            for name in names:
                print(f"    {name:<22}{statistics.median(r[name] for r in rounds):>9.1f}")
            print(flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", default=None, help="run only the cases whose name contains this")
    parser.add_argument("--root", default=str(Path(__file__).resolve().parent.parent),
                        help="the checkout whose emulator package is measured (default: this one)")
    parser.add_argument("--rpm", type=int, default=None, help="the --rpm limit (default: none)")
    parser.add_argument("--tpm", type=int, default=None, help="the --tpm limit (default: none)")
    parser.add_argument("--without-team", action="store_true",
                        help="the pipeline without its team stages, as bench/team_off.py serves it")
    args = parser.parse_args(argv)
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
