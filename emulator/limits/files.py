"""Rate limits written in fixture files: a document's top-level ``rate_limits: {rpm, tpm}``.

Like the fixtures beside it, such a limit applies in every test space, and a changed file is
read again (checked at most every ``RELOAD_S`` on the request path). When several files set one,
the last file in path order wins. A broken one stops start-up with ``file:line``; broken by an
edit later, the limits already read stay in use and the problem is logged.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from ..errors import StartupError
from ..identity.users import RateLimits
from ..scripts.loading import FixtureError, Locator, fixture_files, load_yaml, signature

log = logging.getLogger("emulator.limits")
RELOAD_S = 0.5


class FileLimits:
    def __init__(self, root: Path | None, max_bytes: int):
        self.roots = [Path(root)] if root is not None else []
        self.max_bytes = max_bytes
        self._signature: tuple = ()
        self._next = 0.0
        self.limits = RateLimits()
        if self.roots:
            try:
                self.limits, self._signature = self._read(), signature(self.roots)
            except FixtureError as exc:
                raise StartupError(str(exc)) from None
            self._next = time.monotonic() + RELOAD_S

    def current(self) -> RateLimits:
        if self.roots and time.monotonic() >= self._next:
            self._next = time.monotonic() + RELOAD_S
            now = signature(self.roots)
            if now != self._signature:
                self._signature = now
                try:
                    self.limits = self._read()
                except FixtureError as exc:
                    log.error("rate_limits not reloaded, the previous ones stay in use: %s", exc)
        return self.limits

    def _read(self) -> RateLimits:
        found = RateLimits()
        for root in self.roots:
            for path in fixture_files(root):
                document, node = load_yaml(path.read_text(encoding="utf-8"), str(path), self.max_bytes)
                if isinstance(document, dict) and "rate_limits" in document:
                    found = _parse(document["rate_limits"], Locator(str(path), node).where(["rate_limits"]))
        return found


def _parse(raw: object, where: str | None) -> RateLimits:
    try:
        return parse_limits(raw, "rate_limits")
    except ValueError as exc:
        raise FixtureError(f"{where}: {exc}") from None


def parse_limits(raw: Any, where: str) -> RateLimits:
    """``{rpm, tpm}`` from the control API or a catalog entry: ValueError naming ``where`` otherwise."""
    if not isinstance(raw, dict) or set(raw) - {"rpm", "tpm"}:
        raise ValueError(f"{where} is a mapping of rpm and tpm (whole numbers >= 1, or null), got {raw!r}")
    values: dict[str, int | None] = {}
    for name in ("rpm", "tpm"):
        value = raw.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise ValueError(f"{where}.{name} must be a whole number >= 1 or null, got {value!r}")
        values[name] = value
    return RateLimits(rpm=values["rpm"], tpm=values["tpm"])
