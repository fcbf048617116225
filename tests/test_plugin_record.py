"""The pytest plugin's record modes, run by pytester: record from an upstream, replay offline."""

from __future__ import annotations

import anyio._backends._asyncio  # noqa: F401  (see tests/test_plugin.py: imported before the inner runs)
import httpcore  # noqa: F401
import httpx
import openai  # noqa: F401
import yaml

import emulator.server  # noqa: F401
import emulator.testing.handle  # noqa: F401
import emulator.testing.recording  # noqa: F401

pytest_plugins = ["pytester"]
STRICT = ("-p", "emulator.plugin", "-p", "no:cacheprovider", "--strict-markers", "-W", "error", "-q")
CHAT = {"model": "alfred-4.2", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4}

SUITE = """
    import pathlib

    import pytest

    pytestmark = pytest.mark.paradigm_record

    def test_chat(paradigm_client):
        answer = paradigm_client.chat.completions.create(model="alfred-4.2", max_tokens=4,
                                                         messages=[{"role": "user", "content": "Hi"}])
        pathlib.Path("answer.txt").write_text(answer.choices[0].message.content)
"""

ANOTHER = """

    def test_models(paradigm_client):
        assert paradigm_client.models.list().data
"""


def recorded(pytester) -> list[str]:
    folder = pytester.path / "tests" / "recordings" / "test_recorded"
    return sorted(p.name for p in folder.glob("*.yaml")) if folder.is_dir() else []


def test_once_records_then_replays_offline(pytester, make_server):
    upstream = make_server(seed=21)
    expected = httpx.post(
        upstream.base_url + "/api/v2/chat/completions", json=CHAT, headers={"Authorization": "Bearer k"}
    ).json()["choices"][0]["message"]["content"]
    pytester.makepyfile(test_recorded=SUITE)
    result = pytester.runpytest_inprocess(
        *STRICT, "--paradigm-record=once", f"--paradigm-upstream={upstream.base_url}"
    )
    result.assert_outcomes(passed=1)
    assert recorded(pytester) == ["0001-post-api-v2-chat-completions.yaml"]
    upstream.stop()  # offline from here on
    (pytester.path / "answer.txt").unlink()
    pytester.runpytest_inprocess(*STRICT).assert_outcomes(passed=1)  # default mode: none, replay only
    assert (pytester.path / "answer.txt").read_text() == expected  # the upstream's answer, not the emulator's
    pytester.runpytest_inprocess(*STRICT, "--paradigm-record=once").assert_outcomes(
        passed=1
    )  # recorded: replays


def test_none_fails_an_unrecorded_request_and_new_episodes_records_it(pytester, make_server):
    upstream = make_server(seed=21)
    pytester.makepyfile(test_recorded=SUITE)
    pytester.runpytest_inprocess(
        *STRICT, "--paradigm-record=once", f"--paradigm-upstream={upstream.base_url}"
    )
    pytester.makepyfile(test_recorded=SUITE + ANOTHER)
    refused = pytester.runpytest_inprocess(*STRICT)
    refused.assert_outcomes(passed=1, failed=1)
    refused.stdout.fnmatch_lines(["*unrecorded requests are errors*"])
    grown = pytester.runpytest_inprocess(
        *STRICT, "--paradigm-record=new_episodes", f"--paradigm-upstream={upstream.base_url}"
    )
    grown.assert_outcomes(passed=2)
    assert recorded(pytester) == ["0001-post-api-v2-chat-completions.yaml", "0002-get-api-v2-models.yaml"]
    first = yaml.safe_load(
        (pytester.path / "tests/recordings/test_recorded" / recorded(pytester)[0]).read_text()
    )
    assert len(first["fixtures"][0]["responses"]) == 1  # replayed, not recorded again
    pytester.runpytest_inprocess(*STRICT).assert_outcomes(passed=2)


def test_all_records_everything_again(pytester, make_server):
    upstream = make_server(seed=21)
    pytester.makepyfile(test_recorded=SUITE)
    folder = pytester.path / "tests" / "recordings" / "test_recorded"
    folder.mkdir(parents=True)
    (folder / "0007-stale.yaml").write_text("fixtures: []\n")
    pytester.runpytest_inprocess(
        *STRICT, "--paradigm-record=all", f"--paradigm-upstream={upstream.base_url}"
    ).assert_outcomes(passed=1)
    assert recorded(pytester) == ["0001-post-api-v2-chat-completions.yaml"]


def test_the_modes_that_record_need_an_upstream_and_none_needs_a_recording(pytester, monkeypatch):
    monkeypatch.delenv("PARADIGM_UPSTREAM_URL", raising=False)
    pytester.makepyfile(test_recorded=SUITE)
    missing = pytester.runpytest_inprocess(*STRICT)
    missing.assert_outcomes(errors=1)  # at set-up, with the message alone
    missing.stdout.fnmatch_lines(["*does not exist: record it with --paradigm-record=once*"])
    no_upstream = pytester.runpytest_inprocess(*STRICT, "--paradigm-record=all")
    no_upstream.assert_outcomes(errors=1)
    no_upstream.stdout.fnmatch_lines(["*give --paradigm-upstream URL (or PARADIGM_UPSTREAM_URL)*"])
