"""Record and replay in pytest: ``--paradigm-record=none|once|new_episodes|all``, as pytest-recording.

A test opts in with ``@pytest.mark.paradigm_record`` (or a module's ``pytestmark``); its emulator then
replays the recording of its module, a folder under ``tests/recordings/`` (ini ``paradigm_recordings``;
the marker's ``folder=`` for another), or records it from ``--paradigm-upstream URL`` (env
``PARADIGM_UPSTREAM_URL``; the key sent is ``PARADIGM_EMULATOR_UPSTREAM_KEY``, else the test's own)::

    none          replay only, --strict: an unrecorded request fails with the nearest recordings (default)
    once          replay when the module has a recording, else record one
    new_episodes  replay what is recorded, record what is not
    all           record everything again (the module's folder is emptied first, once per session)

A test that replays needs no network and no key.
Imports pytest (a dependency of the package, as the plugin is part of it).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from .markers import refuse

MARKER = "paradigm_record"
MODES = ("none", "once", "new_episodes", "all")
UPSTREAM_ENV = "PARADIGM_UPSTREAM_URL"
KEY_ENV = "PARADIGM_EMULATOR_UPSTREAM_KEY"
DEFAULT_FOLDER = "tests/recordings"
_emptied: set[Path] = set()  # folders `all` has emptied in this session


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("paradigm")
    group.addoption(
        "--paradigm-record",
        dest="paradigm_record",
        default="none",
        choices=MODES,
        help="record mode of the tests marked paradigm_record: none (replay only, the default), "
        "once, new_episodes or all",
    )
    group.addoption(
        "--paradigm-upstream",
        dest="paradigm_upstream",
        default=None,
        metavar="URL",
        help=f"the Paradigm that recordings are made from (env {UPSTREAM_ENV})",
    )
    parser.addini(
        "paradigm_recordings",
        f"folder of the recordings, one sub-folder per test module (default {DEFAULT_FOLDER})",
        default=DEFAULT_FOLDER,
    )


def add_marker(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(folder=None, ignore=(), redact=()): replay this test's "
        "Paradigm answers from its module's recording, or record them "
        "(--paradigm-record, --paradigm-upstream)",
    )


def recording_settings(request: pytest.FixtureRequest) -> tuple[dict[str, Any], Path | None]:
    """-> (the emulator settings this test's recording needs, a folder to load as runtime fixtures
    after every reset); ({}, None) for a test that did not opt in."""
    marker = request.node.get_closest_marker(MARKER)
    if marker is None:
        return {}, None
    config = request.config
    mode = config.getoption("paradigm_record", "none") or "none"
    options = dict(marker.kwargs)
    if "folder" in options:
        folder = Path(options.pop("folder"))
        folder = folder if folder.is_absolute() else config.rootpath / folder
    else:
        folder = config.rootpath / config.getini("paradigm_recordings") / request.path.stem
    ignore, redact = tuple(options.pop("ignore", ())), tuple(options.pop("redact", ()))
    if options:
        refuse(
            f"@pytest.mark.{MARKER} on {request.node.nodeid}: "
            f"unknown option(s) {', '.join(sorted(options))}; "
            "use folder, ignore or redact"
        )
    recorded = folder.is_dir() and any(folder.glob("*.yaml"))
    if mode == "none" or (mode == "once" and recorded):
        if not recorded:
            refuse(
                f"{request.node.nodeid} replays the recording {folder}, which does not exist: record it "
                f"with --paradigm-record=once --paradigm-upstream URL (or {UPSTREAM_ENV})"
            )
        return {"fixtures_dir": folder.resolve(), "strict": True, "replay_speed": 0.0}, None
    upstream = config.getoption("paradigm_upstream", None) or os.environ.get(UPSTREAM_ENV)
    if not upstream:
        refuse(
            f"--paradigm-record={mode} records from a Paradigm: give --paradigm-upstream URL "
            f"(or {UPSTREAM_ENV})"
        )
    folder = folder.resolve()
    if mode == "all" and folder not in _emptied:
        _emptied.add(folder)
        if folder.is_dir():
            shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    settings: dict[str, Any] = {
        "upstream": upstream,
        "record": folder,
        "record_ignore": ignore,
        "record_redact": redact,
    }
    if os.environ.get(KEY_ENV):
        settings["upstream_key"] = os.environ[KEY_ENV]
    replay = folder if mode == "new_episodes" and any(folder.glob("*.yaml")) else None
    return settings, replay
