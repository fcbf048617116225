"""main(argv) -> int: ``paradigm-emulator serve [flags]`` (also ``python -m emulator``).

Every flag has an environment variable, ``PARADIGM_EMULATOR_<FLAG>``; a flag wins
over its variable. ``--port 0`` picks a free port; the URLs printed at start name it.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Sequence

from . import __version__
from .config import Settings, env_name, from_env

_FLAGS = (
    ("host", str, "interface to listen on (default 127.0.0.1: this machine only)"),
    ("port", int, "port to listen on (default 8000; 0 picks a free one)"),
    ("spec-dir", str, "folder of the OpenAPI YAML files served"),
    ("fixtures-dir", str, "folder of YAML/JSON fixture files (scripted answers) to load and hot-reload"),
    ("models", str, "model catalog YAML (default: the shipped fixtures/models.yaml)"),
    ("seed", int, "changes every generated text, id and vector (default 0)"),
    ("ttft-ms", float, "time to first token of every answer, in ms (default 0)"),
    ("itl-ms", float, "delay between streamed tokens, in ms (default 0)"),
    ("max-upload-mb", float, "largest accepted upload (default 25, as on Paradigm)"),
    ("max-body-mb", float, "largest accepted JSON or form body (default 25)"),
    ("ingest-ms", float, "time an uploaded file takes to be embedded (default 0: immediate)"),
    ("data-dir", str, "snapshot the file store here on exit, and load it on start"),
    ("admin-token", str, "require this token (X-Emulator-Admin-Token) on the /_emulator control API"),
    ("log-level", str, "critical, error, warning (default), info or debug"),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="paradigm-emulator", description="An emulator of LightOn's Paradigm API.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="start the emulator (the default command)")
    for flag, kind, text in _FLAGS:
        serve.add_argument(f"--{flag}", type=kind, default=None,
                           help=f"{text} [env {env_name(flag.replace('-', '_'))}]")
    serve.add_argument("--api-key", action="append", dest="api_keys", default=None,
                       help="accept only this bearer key (repeatable; default: any non-empty key) "
                            f"[env {env_name('api_keys')}, comma-separated]")
    serve.add_argument("--strict", action="store_true", default=None,
                       help=f"answer unmatched requests with an error instead of generated text [env {env_name('strict')}]")
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    overrides = {}
    for flag, _, _ in _FLAGS:
        name = flag.replace("-", "_")
        overrides[name] = getattr(args, name)
    overrides["api_keys"] = tuple(args.api_keys) if args.api_keys else None
    overrides["strict"] = args.strict
    from pathlib import Path

    for name in ("spec_dir", "fixtures_dir", "models", "data_dir"):
        if overrides.get(name) is not None:
            overrides[name] = Path(overrides[name])
    return from_env(**overrides)


LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version"):
        argv.insert(0, "serve")
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a bad flag: argparse has said why
        return exc.code if isinstance(exc.code, int) else 2
    try:
        settings = settings_from_args(args)
    except ValueError as exc:  # a PARADIGM_EMULATOR_* variable that does not parse
        print(f"paradigm-emulator: {exc}", file=sys.stderr)
        return 2
    if settings.log_level.lower() not in LOG_LEVELS:
        print(f"paradigm-emulator: --log-level must be one of {', '.join(LOG_LEVELS)}, "
              f"got {settings.log_level!r}", file=sys.stderr)
        return 2
    return serve(settings.replace(log_level=settings.log_level.lower()))


def serve(settings: Settings) -> int:
    import uvicorn

    from .app import create_app
    from .catalog import CatalogError
    from .spec import SpecError

    logging.basicConfig(level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        app = create_app(settings)
    except (SpecError, CatalogError, LookupError, ValueError, OSError) as exc:
        print(f"paradigm-emulator: cannot start: {exc}", file=sys.stderr)
        return 2
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level=settings.log_level,
                            access_log=False, **fast_stack())
    server = _AnnouncingServer(config)
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn has shut down gracefully, then re-raises the Ctrl-C it caught
        pass
    return 0 if server.started or not server.should_exit else 1


def fast_stack() -> dict[str, str]:
    """httptools + uvloop when installed (uvicorn[standard]): 2.5-3.5x the throughput of h11 + asyncio."""
    options = {}
    try:
        import httptools  # noqa: F401

        options["http"] = "httptools"
    except ImportError:
        options["http"] = "h11"
    try:
        import uvloop  # noqa: F401

        options["loop"] = "uvloop"
    except ImportError:
        options["loop"] = "asyncio"
    return options


def base_urls(host: str, port: int) -> dict[str, str]:
    shown = f"[{host}]" if ":" in host else host
    return {"v2": f"http://{shown}:{port}/api/v2", "v3": f"http://{shown}:{port}/api/v3"}


try:
    import uvicorn as _uvicorn

    class _AnnouncingServer(_uvicorn.Server):
        """Prints the base URLs once the socket is bound (so --port 0 shows the real port)."""

        async def startup(self, sockets=None) -> None:
            await super().startup(sockets=sockets)
            if not self.started:
                return
            port = self.config.port
            for server in getattr(self, "servers", []):
                for sock in server.sockets:
                    port = sock.getsockname()[1]
            urls = base_urls(self.config.host, port)
            print(f"paradigm-emulator {__version__} listening (Ctrl-C to stop)\n"
                  f"  v2 base URL: {urls['v2']}\n  v3 base URL: {urls['v3']}", flush=True)
except ImportError:  # pragma: no cover - uvicorn is a dependency
    pass
