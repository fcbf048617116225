"""Every code block of the README runs as a test, against a real emulator, and shows what it prints.

A ```python block runs as written (only the URL changes to the test server's), and the lines it
prints must be the `# -> ...` comments of the block, in order; a block that defines `test_`
functions runs as a pytest file of its own, with the plugin. A ```sh block runs under bash, its
output checked the same way. A ```yaml block is a fixture file: the blocks after it in the same
section run against an emulator started with it in `--fixtures-dir`. The quickstart's two
commands are checked by what they do: the server the first starts prints its base URLs, and the
suite the second runs is collected.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import pytest

from tests.cli_process import start_cli
from tests.conftest import ROOT, TIMEOUT

README = (ROOT / "README.md").read_text(encoding="utf-8")
DEFAULT_URL = "http://127.0.0.1:8000"
INSTALL_AND_SERVE = ("python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]'"
                     " && .venv/bin/paradigm-emulator serve")
RUN_THE_TESTS = ".venv/bin/python -m pytest -n 2 --dist loadfile"
OUTPUT = re.compile(r"#\s*->\s?(.*)$")


@dataclass(frozen=True)
class Block:
    lang: str
    code: str
    section: str
    fixtures: str | None  # the section's ```yaml block before this one, if any

    @property
    def expected(self) -> list[str]:
        return [match[1].rstrip() for line in self.code.splitlines() if (match := OUTPUT.search(line))]


def blocks() -> list[Block]:
    found: list[Block] = []
    section, fixtures = "", None
    for match in re.finditer(r"^## ([^\n]+)$|^```(\w*)\n(.*?)^```$", README, re.M | re.S):
        if match[1] is not None:
            section, fixtures = match[1], None
        elif match[2] == "yaml":
            fixtures = match[3]
        else:
            found.append(Block(match[2], match[3], section, fixtures))
    return found


def block_id(block: Block) -> str:
    return f"{block.section}: {block.code.splitlines()[0][:40]}"


PYTHON = [b for b in blocks() if b.lang == "python"]
SHELL = [b for b in blocks() if b.lang in ("sh", "bash")]
QUICKSTART = {INSTALL_AND_SERVE, RUN_THE_TESTS}


def test_every_block_is_run_here():
    """A block of a language this file does not run would go unchecked: there is none."""
    unchecked = [b for b in blocks() if b.lang not in ("python", "sh", "bash")]
    assert unchecked == []
    assert len(PYTHON) >= 5 and len(SHELL) >= 3
    assert {b.code.strip() for b in SHELL} >= QUICKSTART


@contextlib.contextmanager
def cli(*flags: str) -> Iterator[str]:
    process, url = start_cli(*flags)
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()


@contextlib.contextmanager
def emulator_for(block: Block, server, tmp_path: Path) -> Iterator[str]:
    """The root URL of an emulator fresh for the block: the session's one, reset, or one with the
    section's fixture file."""
    if block.fixtures is None:
        httpx.post(server.base_url + "/_emulator/reset", timeout=TIMEOUT).raise_for_status()
        yield server.base_url
        return
    folder = tmp_path / "fixtures"
    folder.mkdir()
    (folder / "readme.yaml").write_text(block.fixtures, encoding="utf-8")
    with cli("--fixtures-dir", str(folder)) as url:
        yield url


def run_python(code: str) -> str:
    out = io.StringIO()
    namespace: dict[str, object] = {}
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(code, "README.md", "exec"), namespace)
    finally:
        for value in namespace.values():
            if isinstance(value, (httpx.Client, openai.OpenAI)):
                value.close()
    return out.getvalue()


@pytest.mark.parametrize("block", [b for b in PYTHON if "def test_" not in b.code], ids=block_id)
def test_python_block_prints_what_it_says(block: Block, server, tmp_path):
    assert block.expected, "a README example shows what it prints, as # -> comments"
    with emulator_for(block, server, tmp_path) as url:
        printed = run_python(block.code.replace(DEFAULT_URL, url))
    assert printed.splitlines() == block.expected


@pytest.mark.parametrize("block", [b for b in PYTHON if "def test_" in b.code], ids=block_id)
def test_pytest_block_passes_with_the_plugin(block: Block, tmp_path):
    tests = len(re.findall(r"^def test_", block.code, re.M))
    (tmp_path / "test_from_readme.py").write_text(block.code, encoding="utf-8")
    # Our plugin loads from its entry point, as in a user's suite; the test tools of this venv that a
    # user's suite would not have (seconds of start-up each) stay out.
    others = [f"no:{name}" for name in ("hypothesispytest", "schemathesis", "faker", "anyio", "xdist",
                                        "xdist.looponfail")]
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               *(option for name in others for option in ("-p", name)), "test_from_readme.py"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{tests} passed" in result.stdout


@pytest.mark.parametrize("block", [b for b in SHELL if b.code.strip() not in QUICKSTART], ids=block_id)
def test_shell_block_prints_what_it_says(block: Block, server, tmp_path):
    assert block.expected, "a README command shows what it prints, as # -> comments"
    with emulator_for(block, server, tmp_path) as url:
        result = subprocess.run(["bash", "-euo", "pipefail", "-c", block.code.replace(DEFAULT_URL, url)],
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    # curl prints a body without a final newline: the expected lines are the bodies, one after the other
    assert result.stdout.replace("\n", "") == "".join(block.expected)


def test_the_quickstart_server_prints_its_base_urls():
    """The first command's last step, the installed entry point, on a free port (the install is what
    `pip install -e '.[test]'` did for this venv)."""
    entry_point = Path(sys.executable).parent / "paradigm-emulator"
    assert entry_point.exists(), entry_point
    process = subprocess.Popen([str(entry_point), "serve", "--port", "0"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        printed = "".join(process.stdout.readline() for _ in range(3))
        match = re.search(r"v2 base URL: (http://127\.0\.0\.1:\d+)/api/v2\n  v3 base URL: \1/api/v3", printed)
        assert match, printed
        models = httpx.get(match[1] + "/api/v2/models", headers={"Authorization": "Bearer any-key"},
                           timeout=TIMEOUT)
        assert models.status_code == 200 and models.json()["data"]
    finally:
        process.terminate()
        process.wait(timeout=30)
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()


def test_the_quickstart_test_command_collects_the_suite():
    """The second command, without running the whole suite from inside it: it collects every test.
    Collected only, no assert runs: their rewriting (most of the collection's time where no bytecode
    is cached) is left out, and the tests collected are the same."""
    command = RUN_THE_TESTS.replace(".venv/bin/python", sys.executable).split() + [
        "--collect-only", "-q", "-p", "no:cacheprovider", "--assert=plain"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert re.search(r"^\d+ tests collected", result.stdout, re.M), result.stdout[-500:]


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"^```.*?^```$", "", page.read_text(encoding="utf-8"), flags=re.M | re.S)
    return {slug(match[1]) for match in re.finditer(r"^#+ (.+)$", text, re.M)}


PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_resolves(page: Path):
    """The README's and the docs' links to files and to headings, the moved sections included."""
    text = re.sub(r"^```.*?^```$", "", page.read_text(encoding="utf-8"), flags=re.M | re.S)
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    broken = []
    for link in links:
        if re.match(r"[a-z]+://", link):
            continue
        target, _, anchor = link.partition("#")
        path = (page.parent / target).resolve() if target else page
        if not path.exists() or (anchor and path.suffix == ".md" and anchor not in anchors(path)):
            broken.append(link)
    assert not broken, broken
    if page.name == "README.md":  # the front door links every page of docs/
        assert {p.name for p in PAGES[1:]} <= {Path(link.partition("#")[0]).name for link in links}
