"""The README's agents-and-turns example runs as written, against a real server, and prints what it says."""

from __future__ import annotations

import contextlib
import io
import re

from tests.conftest import ROOT

SECTION = "## Agents, threads and turns (v3)"


def _example() -> tuple[str, str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index(SECTION):]
    code = re.search(r"```python\n(.*?)```", section, re.S)[1]
    printed = re.search(r"^# (document_search -> .*)$", code, re.M)[1]
    return code, printed


def test_the_readme_example_prints_what_it_says(server, emulator):
    code, printed = _example()
    code = code.replace("http://127.0.0.1:8000", server.base_url)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        namespace: dict = {}
        exec(compile(code, "README.md", "exec"), namespace)
        namespace["api"].close()

    assert out.getvalue().strip() == printed
