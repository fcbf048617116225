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

    logging.basicConfig(level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        app = create_app(settings)
    except StartupError as exc:  # a spec, the catalog, a fixture file, the workspaces: the message says which
        print(f"paradigm-emulator: cannot start: {exc}", file=sys.stderr)
        return 2
    from .connections import uvicorn_options
    from .guard import exposure_warning

    if (warning := exposure_warning(settings)) is not None:
        print(warning, file=sys.stderr, flush=True)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level=settings.log_level,
                            access_log=False, **uvicorn_options(settings))
    server = _AnnouncingServer(config)
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn has shut down gracefully, then re-raises the Ctrl-C it caught
        pass
    return 0 if server.started or not server.should_exit else 1


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
