"""The emulator settings a test asks for: the ini options, then its ``paradigm`` markers.

``requested_settings(request)`` reads ``paradigm_fixtures`` and ``paradigm_seed`` from the ini file,
then every ``@pytest.mark.paradigm(...)`` from the farthest to the closest, and checks each value
(a folder that exists, a whole number, a field of ``Settings``): a wrong one fails the tests that
use it with just its message (``refuse``).
Imports pytest (a dependency of the package, as the plugin is part of it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

import pytest

MARKER = "paradigm"
_PATH_SETTINGS = ("fixtures_dir", "models", "spec_dir", "data_dir")
_NOT_SETTABLE = ("port", "host")  # the plugin binds a free port on loopback


def refuse(message: str) -> NoReturn:
    """A misconfigured marker or ini option fails the tests that use it, with just this message."""
    pytest.fail(message, pytrace=False)


def requested_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings for this test: the ini options, then paradigm markers from the farthest (module)
    to the closest (function), a closer marker winning key by key."""
    config = request.config
    overrides: dict[str, Any] = {}
    folders = config.getini("paradigm_fixtures")
    if len(folders) > 1:
        refuse(f"paradigm_fixtures takes one folder, got {len(folders)}: {' '.join(map(str, folders))}")
    if folders:
        overrides["fixtures_dir"] = _existing_dir(Path(folders[0]), "ini option paradigm_fixtures")
    seed = config.getini("paradigm_seed").strip()
    if seed:
        overrides["seed"] = _seed(seed, "ini option paradigm_seed")
    for marker in reversed(list(request.node.iter_markers(MARKER))):
        overrides.update(_marker_settings(marker, request))
    return overrides


def _marker_settings(marker: pytest.Mark, request: pytest.FixtureRequest) -> dict[str, Any]:
    import dataclasses

    from ..config import Settings

    where = f"@pytest.mark.{MARKER} on {request.node.nodeid}"
    if marker.args:
        refuse(f"{where}: takes keyword arguments only (fixtures=..., seed=...), got {marker.args!r}")
    fields = {f.name for f in dataclasses.fields(Settings)} - set(_NOT_SETTABLE)
    settings: dict[str, Any] = {}
    for name, value in marker.kwargs.items():
        field = "fixtures_dir" if name == "fixtures" else name
        if field not in fields:
            refuse(f"{where}: unknown setting {name!r}; use fixtures, seed or one of "
                    f"{', '.join(sorted(fields - {'fixtures_dir'}))}")
        if field == "seed":
            value = _seed(value, f"{where}: seed")
        elif field == "api_keys":
            value = (value,) if isinstance(value, str) else tuple(value)
        elif field in _PATH_SETTINGS and value is not None:
            value = _resolve(Path(value), request, where, must_be_dir=field in ("fixtures_dir", "spec_dir"))
        settings[field] = value
    return settings


def _seed(value: Any, where: str) -> int:
    try:
        if isinstance(value, bool):
            raise ValueError
        return int(value)
    except (TypeError, ValueError):
        refuse(f"{where} must be a whole number, not {value!r}")


def _resolve(path: Path, request: pytest.FixtureRequest, where: str, must_be_dir: bool) -> Path:
    """A relative path is read from the rootdir (where pytest.ini/pyproject.toml is), else from the
    test file's folder."""
    tries = [path] if path.is_absolute() else [request.config.rootpath / path, request.path.parent / path]
    for candidate in tries:
        if candidate.is_dir() or (candidate.exists() and not must_be_dir):
            return candidate.resolve()
    kind = "folder" if must_be_dir else "file"
    refuse(f"{where}: {str(path)!r} is not a {kind} (looked for {' and '.join(map(str, tries))})")


def _existing_dir(path: Path, where: str) -> Path:
    if not path.is_dir():
        refuse(f"{where}: {str(path)!r} is not a folder")
    return path.resolve()
