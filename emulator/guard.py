"""The checks every request passes before any route sees it: the web pages of a browser stay out.

A developer's emulator listens on their own machine, and any web page their browser opens can
send it requests. Three checks keep such a page out, as Django's ``ALLOWED_HOSTS`` and CSRF do:

* ``Host`` (every route): exactly one, shaped ``host[:port]`` (no user name, no path), and the
  name in it must be one the server answers to (``localhost``, ``127.0.0.1``, ``[::1]``, the
  ``--host`` value, an IP address, or an ``--allow-host``), with or without the port. A page on a
  domain rebound to 127.0.0.1 (DNS rebinding) sends its own domain: 400.
* ``Origin`` (the ``/_emulator`` control API): a browser names the page that sent a request; only
  the emulator's own origin (the same host and port) or an ``--allow-origin`` may drive it: 403.
* The body's media type (``/_emulator`` POST, PUT, PATCH, DELETE with a body): JSON or YAML only,
  which a page can send only after a CORS preflight the emulator never grants; ``text/plain``
  or a form (the "simple" requests a page may send anywhere) is a 415.

``--allow-host '*'`` and ``--allow-origin '*'`` turn a check off. Cheap on the hot path: one scan of
the headers for ``Host``, and an accepted ``Host`` value is remembered.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from .config import Settings

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CONTROL_PREFIX = "/_emulator"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
BODY_TYPES = frozenset({"application/json", "application/yaml", "application/x-yaml", "text/yaml",
                        "text/x-yaml"})
_MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_REMEMBERED = 256  # accepted Host values kept (a client sends one or two)
# What a Host header may be (RFC 9110: uri-host [":" port]): a bracketed IPv6 literal or a name of
# letters, digits, dots, dashes and underscores, then an optional port. No userinfo, no path.
_HOST_SHAPE = re.compile(rb"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::[0-9]{0,5})?")


def host_name(value: str) -> str:
    """``Host`` header -> the name in it: ``[::1]:8000`` -> ``::1``, ``LocalHost.:80`` -> ``localhost``."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        name = value[1:end] if end > 0 else value
    elif value.count(":") == 1:
        name = value.split(":", 1)[0]
    else:
        name = value
    return name.rstrip(".")


def _is_address(name: str) -> bool:
    """An IP literal cannot be rebound: a page that sends it was loaded from that address."""
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def exposure_warning(settings: Settings) -> str | None:
    """The warning printed when the emulator listens beyond this machine with an open control API."""
    if settings.admin_token or host_name(settings.host) in LOOPBACK_NAMES:
        return None
    return (f"paradigm-emulator: WARNING: listening on {settings.host} without --admin-token: anyone who can "
            f"reach this port can script every answer, read the request journal (prompts and uploads) and "
            f"reset the state through /_emulator. Set --admin-token, or listen on 127.0.0.1.")


class Guard:
    """ASGI middleware: the Host, Origin and control-API media-type checks (see the module doc)."""

    def __init__(self, app: ASGIApp, settings: Settings):
        self.app = app
        self.any_host = "*" in settings.allow_host
        self.any_origin = "*" in settings.allow_origin
        self.names = frozenset({*LOOPBACK_NAMES, host_name(settings.host),
                                *(host_name(h) for h in settings.allow_host if h != "*")})
        self.origins = frozenset(o.strip().rstrip("/").lower() for o in settings.allow_origin if o != "*")
        self.accepted: set[bytes] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = scope["headers"]
        hosts = [value for name, value in headers if name == b"host"]
        host = hosts[0] if hosts else None
        if len(hosts) > 1:
            await _refuse(send, 400, f"The request has {len(hosts)} Host headers; send exactly one.")
            return
        if host is not None and host not in self.accepted and not self.any_host:
            refusal = self._check_host(host)
            if refusal is not None:
                await _refuse(send, 400, refusal)
                return
        if scope["path"].startswith(CONTROL_PREFIX):
            refused = self._check_control(scope, headers, host)
            if refused is not None:
                await _refuse(send, *refused)
                return
        await self.app(scope, receive, send)

    def _check_host(self, raw: bytes) -> str | None:
        text = raw.decode("latin-1")
        if _HOST_SHAPE.fullmatch(raw.strip()) is None:
            return (f"Host {text!r} is not a host name with an optional port (host or host:port; no "
                    f"user name, path or spaces).")
        name = host_name(text)
        if name in self.names or _is_address(name):
            if len(self.accepted) < _REMEMBERED:
                self.accepted.add(raw)
            return None
        known = ", ".join(sorted(f"[{n}]" if ":" in n else n for n in self.names))
        return (f"Host {text!r} is not a name this emulator answers to ({known}, or an IP address): a guard "
                f"against DNS rebinding. Add it with --allow-host {name}.")

    def _check_control(self, scope: Scope, headers: list[tuple[bytes, bytes]],
                       host: bytes | None) -> tuple[int, str] | None:
        origin = content_type = None
        has_body = False
        for name, value in headers:
            if name == b"origin":
                origin = value.decode("latin-1").strip()
            elif name == b"content-type":
                content_type = value.decode("latin-1").split(";", 1)[0].strip().lower()
            elif name == b"content-length":
                has_body = value.strip() not in (b"", b"0")
            elif name == b"transfer-encoding":
                has_body = True
        if origin is not None and not self.any_origin and not self._own_origin(origin, host):
            return 403, (f"Origin {origin!r} may not use the control API (only the emulator's own pages "
                         f"may): allow it with --allow-origin {origin}.")
        if scope["method"] in _MUTATING and (has_body or content_type) and content_type not in BODY_TYPES:
            return 415, (f"Unsupported media type \"{content_type or ''}\" in request. The control API takes "
                         f"application/json or application/yaml bodies.")
        return None

    def _own_origin(self, origin: str, host: bytes | None) -> bool:
        lowered = origin.rstrip("/").lower()
        if lowered in self.origins:
            return True
        parts = urlsplit(lowered)
        return host is not None and parts.scheme in ("http", "https") and parts.netloc == host.decode(
            "latin-1").strip().lower()


async def _refuse(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}, ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
