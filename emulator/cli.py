"""main(argv) -> int: ``paradigm-emulator serve [flags]`` (also ``python -m emulator``).

Every flag has an environment variable, ``PARADIGM_EMULATOR_<FLAG>``; a flag wins
over its variable. ``--port 0`` picks a free port; the URLs printed at start name it.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import errno
import logging
import socket
import sys
from collections.abc import Sequence

from .config import PARSERS, Settings, env_name, expected, from_env
from .errors import StartupError
from .stack import base_urls, bound_port, check_port
from .version import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="paradigm-emulator",
                                     description="An emulator of LightOn's Paradigm API.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="start the emulator (the default command)")
    commands.add_parser("drift", add_help=False,  # its own parser: emulator/cli_drift.py
                        help="send a recording's requests again and report where the answers' shapes differ")
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
                raise ValueError(f"{flag_name} expects {expected(f.name)}, got {given!r}") from None
    return from_env(None, **overrides)


def _unknown_flags(parser: argparse.ArgumentParser, command: str | None, extra: list[str]) -> None:
    """A flag the command does not know: the command's own usage, and the closest flag names (not
    argparse's top-level usage, which says nothing of ``serve``'s flags). Exits 2, as argparse does."""
    commands = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
    own = commands.choices.get(command) if commands is not None and command else None
    target = own or parser
    known = [option for action in target._actions for option in action.option_strings]
    hints = []
    for word in extra:
        if word.startswith("-"):
            close = difflib.get_close_matches(word.split("=", 1)[0], known, n=3, cutoff=0.6)
            hints.append(f"{word} (did you mean {' or '.join(close)}?)" if close else word)
    shown = ", ".join(hints) or " ".join(extra)
    target.error(f"unrecognized arguments: {shown}; see {target.prog} --help for every flag")


LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "drift":
        from .cli_drift import main as drift

        return drift(argv[1:])
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version"):
        argv.insert(0, "serve")
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:
            _unknown_flags(parser, getattr(args, "command", None), extra)
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
    try:
        sock = bind(settings.host, settings.port)
    except StartupError as exc:
        print(f"paradigm-emulator: cannot start: {exc}", file=sys.stderr)
        return 2
    if settings.workers > 1:
        return serve_workers(settings, options, sock)
    server = _AnnouncingServer(uvicorn.Config(app, **options))
    try:
        server.run(sockets=[sock])
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
                # Before any worker starts: a worker restarted later must not take an emptied Redis for
                # a fresh one (state/redis_ids.py: the marker, and the ids past a lost backend).
                from .state.redis_ids import start_marker_key

                client.set(start_marker_key(settings.redis_prefix), b"0:start", nx=True)
            finally:
                client.close()
        except (redis.RedisError, OSError, ValueError) as exc:
            return f"cannot reach Redis at {settings.redis_url} (--redis-url): {exc}"
    return None


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so that a port in use is one line naming it and --port
    (uvicorn would log its raw ``[Errno 98]``)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family=family)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise StartupError(f"port {port} is already in use on {host} (another emulator or server listens "
                               f"there): stop it, or pick another port with --port (--port 0 picks a free "
                               f"one)") from None
        if exc.errno == errno.EACCES:
            raise StartupError(f"port {port} needs privileges this user does not have: pick a port above "
                               f"1023 with --port") from None
        raise StartupError(f"cannot listen on {host}:{port} (--host, --port): {exc.strerror}") from None
    sock.set_inheritable(True)  # --workers: every worker process serves this socket
    return sock


def serve_workers(settings: Settings, options: dict, sock: socket.socket) -> int:
    """N uvicorn worker processes on one socket, each building its app from the same settings,
    handed over as PARADIGM_EMULATOR_* variables (the app factory reads them)."""
    import os

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from .config import to_env

    os.environ.update(to_env(settings.replace(mark_redis_start=False)))
    # Every worker writes its metrics to files here, and a scrape on any one adds them all up.
    own_metrics_dir = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if own_metrics_dir:
        import tempfile

        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="paradigm-emulator-metrics-")
    config = uvicorn.Config("emulator.app:create_app_from_env", factory=True, workers=settings.workers,
                            **options)
    urls = base_urls(settings.host, sock.getsockname()[1])
    print(f"paradigm-emulator {__version__} listening with {settings.workers} workers (Ctrl-C to stop)\n"
          f"  v2 base URL: {urls['v2']}\n  v3 base URL: {urls['v3']}\n"
          f"  inspector:   {urls['ui']}", flush=True)
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

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if not self.started:
                return
            urls = base_urls(self.config.host, bound_port(self, self.config.port))
            print(f"paradigm-emulator {__version__} listening (Ctrl-C to stop)\n"
                  f"  v2 base URL: {urls['v2']}\n  v3 base URL: {urls['v3']}\n"
                  f"  inspector:   {urls['ui']}", flush=True)
except ImportError:  # pragma: no cover - uvicorn is a dependency
    pass
