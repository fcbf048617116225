"""main(argv) -> int: ``paradigm-emulator serve [flags]`` (also ``python -m emulator``).

Every flag has an environment variable, ``PARADIGM_EMULATOR_<FLAG>``; a flag wins
over its variable. ``--port 0`` picks a free port; the URLs printed at start name it.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from typing import Sequence

from . import __version__
from .config import PARSERS, Settings, env_name, from_env
from .errors import StartupError
from .stack import base_urls, check_port


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="paradigm-emulator", description="An emulator of LightOn's Paradigm API.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="start the emulator (the default command)")
    for f in dataclasses.fields(Settings):
        if "help" not in f.metadata:
            continue
        name = f.metadata.get("flag") or "--" + f.name.replace("_", "-")
        text = f"{f.metadata['help']} [env {env_name(f.name)}]"
        kind = PARSERS[f.name]
        if kind is bool or f.type == "bool":
            serve.add_argument(name, dest=f.name, action="store_true", default=None, help=text)
        elif f.metadata.get("repeat"):
            serve.add_argument(name, dest=f.name, action="append", default=None,
                               help=text.replace("]", ", comma-separated]"))
        else:
            serve.add_argument(name, dest=f.name, type=str, default=None, help=text)
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Flags win over variables; each flag's text is read the way its variable is."""
    overrides: dict[str, object] = {}
    for f in dataclasses.fields(Settings):
        given = getattr(args, f.name, None)
        if given is None or isinstance(given, bool):
            overrides[f.name] = given
        elif isinstance(given, list):
            overrides[f.name] = tuple(given)
        else:
            try:
                overrides[f.name] = PARSERS[f.name](given)
            except ValueError:
                flag_name = f.metadata.get("flag") or "--" + f.name.replace("_", "-")
                raise ValueError(f"{flag_name} {given!r} is not a valid {f.name}") from None
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
        check_port(settings.port)
    except (ValueError, StartupError) as exc:  # a flag or PARADIGM_EMULATOR_* variable that does not parse
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
    from .stack import release_freed_memory

    release_freed_memory()
    logging.basicConfig(level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    problem = check_state(settings)
    if problem:
        print(f"paradigm-emulator: {problem}", file=sys.stderr)
        return 2
    try:
        app = create_app(settings)  # with --workers too: a broken spec or fixture is said once, here
    except StartupError as exc:  # a spec, the catalog, a fixture file, the workspaces: the message says which
        print(f"paradigm-emulator: cannot start: {exc}", file=sys.stderr)
        return 2
    from .connections import uvicorn_options
    from .guard import exposure_warning

    if (warning := exposure_warning(settings)) is not None:
        print(warning, file=sys.stderr, flush=True)
    options = dict(host=settings.host, port=settings.port, log_level=settings.log_level, access_log=False,
                   timeout_graceful_shutdown=max(0.1, settings.shutdown_timeout), **uvicorn_options(settings))
    if settings.workers > 1:
        return serve_workers(settings, options)
    server = _AnnouncingServer(uvicorn.Config(app, **options))
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn has shut down gracefully, then re-raises the Ctrl-C it caught
        pass
    return 0 if server.started or not server.should_exit else 1


def check_state(settings: Settings) -> str | None:
    """What stops the state from being shared as asked: -> the message, or None."""
    if settings.workers < 1:
        return f"--workers must be 1 or more, got {settings.workers}"
    if settings.workers > 1 and not settings.redis_url:
        return (f"--workers {settings.workers} needs --redis-url: each worker is its own process, so without "
                "a shared state a fixture posted to one worker, a file uploaded to another, the use counters "
                "and the journal would each live in one worker only. Start a Redis (redis-server) and add "
                "--redis-url redis://127.0.0.1:6379/0 (or PARADIGM_EMULATOR_REDIS_URL), or run one worker.")
    if settings.redis_url and settings.data_dir is not None:
        print("paradigm-emulator: warning: --data-dir is for the memory backend; with --redis-url the state "
              "is in Redis (which is its persistence), and --data-dir is not used", file=sys.stderr)
    if settings.redis_url:
        import redis

        try:
            client = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=3, socket_timeout=3)
            try:
                client.ping()
            finally:
                client.close()
        except (redis.RedisError, OSError, ValueError) as exc:
            return f"cannot reach Redis at {settings.redis_url} (--redis-url): {exc}"
    return None


def serve_workers(settings: Settings, options: dict) -> int:
    """N uvicorn worker processes on one socket, each building its app from the same settings,
    handed over as PARADIGM_EMULATOR_* variables (the app factory reads them)."""
    import os

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from .config import to_env

    os.environ.update(to_env(settings))
    # Every worker writes its metrics to files here, and a scrape on any one adds them all up.
    own_metrics_dir = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if own_metrics_dir:
        import tempfile

        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="paradigm-emulator-metrics-")
    config = uvicorn.Config("emulator.app:create_app_from_env", factory=True, workers=settings.workers,
                            **options)
    sock = config.bind_socket()
    urls = base_urls(settings.host, sock.getsockname()[1])
    print(f"paradigm-emulator {__version__} listening with {settings.workers} workers (Ctrl-C to stop)\n"
          f"  v2 base URL: {urls['v2']}\n  v3 base URL: {urls['v3']}", flush=True)
    try:
        Multiprocess(config, sockets=[sock]).run()
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
        if own_metrics_dir:
            import shutil

            shutil.rmtree(os.environ.pop("PROMETHEUS_MULTIPROC_DIR"), ignore_errors=True)
    return 0


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
