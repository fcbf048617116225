"""The pytest plugin against one running emulator (--paradigm-url): each session and each xdist
worker has a key and a test space of its own, so two suites run with -n 2 at once, both green
(three times over with PARADIGM_TEST_ROUNDS=3), and leave no rule behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.cli_process import start_cli

SUITE = '''
import pytest


def ask(client):
    return client.chat.completions.create(model="alfred-4.2", messages=[{"role": "user", "content": "x"}])

@pytest.mark.parametrize("n", range(8))
def test_scripted_answer_and_journal_are_this_session_s(paradigm_emulator, paradigm_client, n):
    paradigm_emulator.on_chat(contains="weather").reply(f"Sunny {n}")
    answer = paradigm_client.chat.completions.create(
        model="alfred-4.2", messages=[{"role": "user", "content": "the weather?"}])
    assert answer.choices[0].message.content == f"Sunny {n}"
    paradigm_emulator.assert_called("chat", times=1)
    assert paradigm_emulator.call_count == 1


def test_a_limit_is_this_session_s(paradigm_emulator, paradigm_client):
    import openai

    paradigm_emulator.limit(rpm=2)
    for _ in range(2):
        ask(paradigm_client)
    with pytest.raises(openai.RateLimitError):
        ask(paradigm_client)


def test_after_a_limit_the_next_test_is_free(paradigm_emulator, paradigm_client):
    for _ in range(4):
        ask(paradigm_client)
'''


@pytest.fixture
def shared_emulator():
    process, base = start_cli()
    yield base
    process.terminate()
    process.communicate(timeout=20)


def run_suite(folder: Path, base: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PARADIGM_", "PYTEST_"))}
    # Six processes start pytest here: autoloading this venv's other plugins (hypothesis, schemathesis,
    # faker, anyio) would cost each of them seconds. Only xdist and ours, as a suite would load them.
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    return subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "xdist", "-p", "emulator.plugin",
                             "-n", "2", "-p", "no:cacheprovider", "--paradigm-url", base, str(folder)],
                            cwd=folder, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_two_suites_with_two_workers_each_share_one_emulator(tmp_path: Path, shared_emulator: str) -> None:
    suites = []
    for name in ("one", "two"):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
        (folder / f"test_suite_{name}.py").write_text(SUITE, encoding="utf-8")
        suites.append(folder)
    # One round in the suite (the two suites at once are what proves the isolation); set
    # PARADIGM_TEST_ROUNDS=3 to see it green three times in a row.
    for _ in range(int(os.environ.get("PARADIGM_TEST_ROUNDS", "1"))):
        runs = [run_suite(folder, shared_emulator) for folder in suites]
        outputs = [run.communicate(timeout=300)[0] for run in runs]
        for run, output in zip(runs, outputs, strict=True):
            assert run.returncode == 0, output
            assert "10 passed" in output, output
    assert httpx.get(shared_emulator + "/_emulator/fixtures", timeout=10).json()["fixtures"] == []
    assert httpx.get(shared_emulator + "/_emulator/limits", timeout=10).json()["rpm"] is None
