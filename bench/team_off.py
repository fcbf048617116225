"""The emulator without its team stages (identify, limits, metrics): the baseline of bench_team.py.

    python bench/team_off.py PORT

Serves the same app as ``paradigm-emulator serve`` with the same uvicorn options, but with the
"observe", "identify" and "limits" steps and the after-answer hooks taken out of the pipeline:
the request path as it was before users, limits and metrics.
"""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from emulator.app import create_app  # noqa: E402
from emulator.config import Settings  # noqa: E402
from emulator.connections import uvicorn_options  # noqa: E402
from emulator.stack import release_freed_memory  # noqa: E402


def main() -> None:
    release_freed_memory()  # as serve does
    settings = Settings()
    app = create_app(settings)
    pipeline = app.state.emulator.pipeline
    for name in ("observe", "identify", "limits"):
        pipeline.remove(name)
    pipeline.finished = ()
    # The uvicorn options serve uses (its protocol with the read timeout, the connection cap).
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False,
                timeout_graceful_shutdown=max(0.1, settings.shutdown_timeout), **uvicorn_options(settings))


if __name__ == "__main__":
    main()
