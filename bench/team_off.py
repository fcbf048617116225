"""The emulator without its team stages (identify, limits, metrics): the baseline of bench_team.py.

    python bench/team_off.py PORT

Serves the same app as ``paradigm-emulator serve`` with the same uvicorn stack, but with the
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
from emulator.stack import fast_stack  # noqa: E402


def main() -> None:
    app = create_app(Settings())
    pipeline = app.state.emulator.pipeline
    for name in ("observe", "identify", "limits"):
        pipeline.remove(name)
    pipeline.finished.clear()
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False,
                **fast_stack())


if __name__ == "__main__":
    main()
