"""Settings: one frozen object, a field per CLI flag and environment variable.

Nothing else in the package reads ``os.environ``: the CLI builds a ``Settings``
(flags first, then ``PARADIGM_EMULATOR_*`` variables, then defaults) and hands it
to ``create_app``.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _data_dir(name: str) -> Path:
    """The shipped ``openapi/`` or ``fixtures/``: inside the wheel, or beside the package in a checkout."""
    bundled = _PACKAGE / "_data" / name
    return bundled if bundled.is_dir() else _PACKAGE.parent / name


DEFAULT_SPEC_DIR = _data_dir("openapi")
DEFAULT_FIXTURES_DIR = _data_dir("fixtures")
ENV_PREFIX = "PARADIGM_EMULATOR_"


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    spec_dir: Path = DEFAULT_SPEC_DIR
    fixtures_dir: Path | None = None
    models: Path | None = None
    # Empty: any non-empty bearer key is accepted.
    api_keys: tuple[str, ...] = ()
    seed: int = 0
    ttft_ms: float = 0.0
    itl_ms: float = 0.0
    log_level: str = "warning"
    max_body_mb: float = 25.0
    max_upload_mb: float = 25.0
    ingest_ms: float = 0.0
    data_dir: Path | None = None
    strict: bool = False
    admin_token: str | None = None
    # Where ids' creation times start; every object created later gets a later second.
    epoch: int = 1735689600  # 2025-01-01T00:00:00Z

    @property
    def models_file(self) -> Path:
        return self.models or DEFAULT_FIXTURES_DIR / "models.yaml"

    def replace(self, **changes) -> "Settings":
        return dataclasses.replace(self, **changes)


# How each field is read from a string (CLI flag or environment variable).
_PARSERS = {
    "port": int,
    "seed": int,
    "epoch": int,
    "ttft_ms": float,
    "itl_ms": float,
    "max_body_mb": float,
    "max_upload_mb": float,
    "ingest_ms": float,
    "spec_dir": Path,
    "fixtures_dir": Path,
    "models": Path,
    "data_dir": Path,
    "strict": lambda s: s.strip().lower() in ("1", "true", "yes", "on"),
    "api_keys": lambda s: tuple(k.strip() for k in s.split(",") if k.strip()),
}


def env_name(field_name: str) -> str:
    return ENV_PREFIX + field_name.upper()


def from_env(environ: dict[str, str] | None = None, **overrides) -> Settings:
    """Settings from ``PARADIGM_EMULATOR_*`` variables, with explicit overrides winning."""
    environ = os.environ if environ is None else environ
    values = {}
    for f in dataclasses.fields(Settings):
        raw = environ.get(env_name(f.name))
        if raw is not None and raw != "":
            try:
                values[f.name] = _PARSERS.get(f.name, str)(raw)
            except ValueError:
                raise ValueError(f"{env_name(f.name)}={raw!r} is not a valid {f.name}") from None
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**values)
