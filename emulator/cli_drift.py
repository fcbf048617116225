"""``paradigm-emulator drift DIR [--against URL] [--json]``: where answers differ from a recording.

Every recorded request is sent again, to a fresh emulator of this package by default (generated
answers, no fixtures) or to ``--against URL`` (a live Paradigm: has the recording gone stale?), and
every shape difference is reported, worst first, one line each with its JSON path (``--json``: one
JSON document). Exit 0: no difference; 1: some; 2: the recording or the target cannot be used.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

KEY_ENV = "PARADIGM_API_KEY"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="paradigm-emulator drift",
        description="Send a recording's requests again and report where the "
        "answers' shapes differ from the recorded ones.",
    )
    parser.add_argument("folder", type=Path, help="a recording (the folder serve --record wrote)")
    parser.add_argument(
        "--against",
        metavar="URL",
        default=None,
        help="the service to ask (its root, e.g. https://paradigm.lighton.ai); default: a "
        "fresh emulator with generated answers",
    )
    parser.add_argument("--key", default=None, help=f"bearer key sent to --against (env {KEY_ENV})")
    parser.add_argument("--json", action="store_true", help="one JSON document instead of text")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per request (default 60)")
    return parser


def main(argv: Sequence[str]) -> int:
    try:
        args = build_parser().parse_args(list(argv))
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    import httpx

    from .scripts.loading import FixtureError
    from .upstream.drift import run

    if not args.folder.is_dir():
        print(f"paradigm-emulator drift: {args.folder} is not a folder of recordings", file=sys.stderr)
        return 2
    if args.against is not None and not args.against.startswith(("http://", "https://")):
        print(
            f"paradigm-emulator drift: --against must be an http(s) URL, got {args.against!r}",
            file=sys.stderr,
        )
        return 2
    key = args.key or os.environ.get(KEY_ENV) or "drift-key"
    try:
        if args.against is not None:
            report = run(args.folder, args.against, key, args.timeout)
        else:
            from .config import Settings
            from .server import EmulatorServer

            with EmulatorServer(Settings()) as own:
                report = run(args.folder, own.base_url, key, args.timeout)
                report.target = "the emulator (generated answers)"
    except FixtureError as exc:
        print(f"paradigm-emulator drift: the recording is broken:\n{exc}", file=sys.stderr)
        return 2
    except httpx.HTTPError as exc:
        print(f"paradigm-emulator drift: cannot ask {args.against}: {exc}", file=sys.stderr)
        return 2
    findings = report.ordered()
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        for finding in findings:
            print(finding.line())
        operations = len({f.exchange.operation for f in findings})
        print(
            f"{len(findings)} difference(s) in {operations} operation(s), {report.exchanges} exchange(s) "
            f"compared with {report.target}",
            file=sys.stderr,
        )
    return 1 if findings else 0
