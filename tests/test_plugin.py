"""The pytest plugin, tested as users meet it: example suites run by pytester, outcomes and messages
checked."""

from __future__ import annotations

import textwrap

# pytester's in-process runs forget, when they end, every module first imported inside them. Import
# here what the inner suites use, or httpx (imported already) would go on mapping the exceptions of a
# forgotten copy of httpcore, and let the next copy's ReadTimeout through unmapped.
import anyio._backends._asyncio  # noqa: F401
import httpcore  # noqa: F401
import openai  # noqa: F401
import pytest

import emulator.server  # noqa: F401
import emulator.testing.handle  # noqa: F401

pytest_plugins = ["pytester"]

# What a user's strict configuration looks like; the plugin must not trip it (no warning, no unknown marker).
STRICT = ("-p", "emulator.plugin", "-p", "no:cacheprovider", "--strict-markers", "-W", "error", "-q")

PASSING_SUITE = """
    import os
    import subprocess
    import sys

    import pytest


    def test_scripted_reply(paradigm_emulator, paradigm_client):
        paradigm_emulator.on_chat(contains="weather").reply_tool_call(
            "get_weather", {"city": "Paris"}).then_reply("Sunny")
        ask = lambda: paradigm_client.chat.completions.create(
            model="alfred-4.2", messages=[{"role": "user", "content": "weather in Paris?"}]).choices[0]
        assert ask().message.tool_calls[0].function.name == "get_weather"
        assert ask().message.content == "Sunny"
        paradigm_emulator.assert_called("chat", times=2, model="alfred-4.2")


    def test_environment_points_at_the_emulator(paradigm_emulator, paradigm_base_url):
        assert os.environ["PARADIGM_BASE_URL"] == paradigm_base_url == paradigm_emulator.v2
        assert os.environ["PARADIGM_API_KEY"] == paradigm_emulator.api_key
        assert paradigm_emulator.v3.endswith("/api/v3")


    def test_the_state_of_the_previous_test_is_gone(paradigm_emulator, paradigm_client):
        assert paradigm_emulator.requests == ()
        reply = paradigm_client.chat.completions.create(
            model="alfred-4.2", messages=[{"role": "user", "content": "weather in Paris?"}])
        assert reply.choices[0].finish_reason != "tool_calls"  # the scripted rule went with its test


    @pytest.mark.anyio
    async def test_async_client(paradigm_emulator, paradigm_async_client):
        paradigm_emulator.on_chat().reply("async hello")
        reply = await paradigm_async_client.chat.completions.create(
            model="alfred-4.2", messages=[{"role": "user", "content": "hi"}])
        assert reply.choices[0].message.content == "async hello"


    @pytest.fixture
    def anyio_backend():
        return "asyncio"
"""


def test_a_passing_suite_passes_under_a_strict_configuration(pytester):
    pytester.makepyfile(test_suite=PASSING_SUITE)

    result = pytester.runpytest_inprocess(*STRICT)

    result.assert_outcomes(passed=4)


def test_the_environment_is_restored_after_the_test(pytester, monkeypatch):
    monkeypatch.setenv("PARADIGM_BASE_URL", "https://paradigm.example")
    monkeypatch.delenv("PARADIGM_API_KEY", raising=False)
    pytester.makepyfile(test_env="""
        import os

        def test_uses_the_emulator(paradigm_emulator):
            assert os.environ["PARADIGM_BASE_URL"].startswith("http://127.0.0.1:")

        def test_after_it():
            assert os.environ["PARADIGM_BASE_URL"] == "https://paradigm.example"
            assert "PARADIGM_API_KEY" not in os.environ
    """)

    pytester.runpytest_inprocess(*STRICT).assert_outcomes(passed=2)


def test_a_failed_assert_called_lists_the_similar_requests(pytester):
    pytester.makepyfile(
        test_failing="""
        def test_wrong_model(paradigm_emulator, paradigm_client):
            paradigm_client.chat.completions.create(
                model="alfred-4.2", messages=[{"role": "user", "content": "Hi"}])
            paradigm_client.models.list()
            paradigm_emulator.assert_called("chat", model="alfred-4")
    """
    )

    result = pytester.runpytest_inprocess(*STRICT)

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            '>*paradigm_emulator.assert_called("chat", model="alfred-4")',
            "E*AssertionError: expected 1 request to 'chat' with model='alfred-4', but 0 matched "
            "(2 seen in this test).",
            "E*Requests to 'chat' whose body differs:",
            "E*#1 POST /api/v2/chat/completions -> 200 (last user message 'Hi'): model is 'alfred-4.2', "
            "expected 'alfred-4'",
            "E*Other requests seen:",
            "E*#2 GET /api/v2/models -> 200",
            "*Paradigm emulator requests*",
            "#1 POST /api/v2/chat/completions -> 200 (last user message 'Hi')",
        ]
    )
    assert "recorded.py" not in result.stdout.str()  # the traceback stops at the test's own line


def test_a_test_that_never_reaches_the_emulator_is_told_so(pytester):
    pytester.makepyfile(test_silent="""
        def test_nothing_sent(paradigm_emulator):
            paradigm_emulator.assert_called("chat")
    """)

    result = pytester.runpytest_inprocess(*STRICT)

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["E*0 matched (0 seen in this test).",
                                 "E*No request reached the emulator*PARADIGM_BASE_URL*",
                                 "*(no request reached the emulator)*"])


def test_marker_and_ini_settings_choose_the_server(pytester):
    pytester.makeini("[pytest]\nparadigm_seed = 3\n")
    pytester.mkdir("scripted")
    pytester.path.joinpath("scripted", "greet.yaml").write_text(textwrap.dedent("""
        fixtures:
          - name: greet
            match: {last_user_message: {contains: hello}}
            response: {content: "Hello from a file"}
    """))
    pytester.makepyfile(test_settings="""
        import pytest

        URLS = {}

        def test_ini_seed(paradigm_emulator):
            URLS["ini"] = paradigm_emulator.base_url
            assert paradigm_emulator.settings.seed == 3

        @pytest.mark.paradigm(seed=7, fixtures="scripted")
        def test_marker(paradigm_emulator, paradigm_client):
            URLS["marker"] = paradigm_emulator.base_url
            assert paradigm_emulator.settings.seed == 7
            reply = paradigm_client.chat.completions.create(
                model="alfred-4.2", messages=[{"role": "user", "content": "hello"}])
            assert reply.choices[0].message.content == "Hello from a file"
            assert paradigm_emulator.last.fixture == "greet"

        @pytest.mark.paradigm(fixtures="scripted", seed=7)
        def test_same_settings_same_server(paradigm_emulator):
            assert paradigm_emulator.base_url == URLS["marker"] != URLS["ini"]

        pytestmark = pytest.mark.paradigm(ttft_ms=1)

        @pytest.mark.paradigm(seed=9)
        def test_closest_marker_wins_key_by_key(paradigm_emulator):
            assert (paradigm_emulator.settings.seed, paradigm_emulator.settings.ttft_ms) == (9, 1)
    """)

    pytester.runpytest_inprocess(*STRICT).assert_outcomes(passed=4)


def test_ini_fixture_files_serve_every_test_and_their_sequences_restart(pytester):
    pytester.makeini("[pytest]\nparadigm_fixtures = scripted\n")
    pytester.mkdir("scripted")
    pytester.path.joinpath("scripted", "steps.yaml").write_text(
        "fixtures:\n  - name: steps\n    responses: [{content: one}, {content: two}]\n")
    pytester.makepyfile(test_steps="""
        import pytest

        def ask(client):
            return client.chat.completions.create(
                model="alfred-4.2", messages=[{"role": "user", "content": "next"}]).choices[0].message.content

        @pytest.mark.parametrize("run", [1, 2])
        def test_sequence_starts_over(paradigm_client, run):
            assert [ask(paradigm_client), ask(paradigm_client), ask(paradigm_client)] == ["one", "two", "two"]
    """)

    pytester.runpytest_inprocess(*STRICT).assert_outcomes(passed=2)


@pytest.mark.parametrize(
    "marker, message",
    [
        pytest.param(
            "paradigm(colour='red')", "unknown setting 'colour'; use fixtures, seed or one of *", id="unknown"
        ),
        pytest.param("paradigm(seed='seven')", "*seed must be a whole number, not 'seven'", id="bad-seed"),
        pytest.param(
            "paradigm(fixtures='nowhere')",
            "*'nowhere' is not a folder (looked for *nowhere and *nowhere)",
            id="missing-folder",
        ),
        pytest.param("paradigm(port=8000)", "unknown setting 'port'*", id="port-is-chosen-by-the-plugin"),
        pytest.param("paradigm(7)", "*takes keyword arguments only*", id="positional"),
    ],
)
def test_a_wrong_marker_fails_the_test_with_a_clear_message(pytester, marker, message):
    pytester.makepyfile(test_marker=f"""
        import pytest

        @pytest.mark.{marker}
        def test_it(paradigm_emulator):
            pass
    """)

    result = pytester.runpytest_inprocess(*STRICT)

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"*{message}*"])


def test_a_broken_fixture_file_fails_each_test_once_without_retrying_the_start(pytester):
    pytester.mkdir("broken")
    pytester.path.joinpath("broken", "bad.yaml").write_text("fixtures:\n  - match: {colour: red}\n")
    pytester.makepyfile(test_broken="""
        import pytest

        pytestmark = pytest.mark.paradigm(fixtures="broken")

        def test_one(paradigm_emulator):
            pass

        def test_two(paradigm_emulator):
            pass
    """)

    result = pytester.runpytest_inprocess(*STRICT)

    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*the Paradigm emulator could not start (fixtures_dir=*bad.yaml*colour*"])


def test_the_marker_is_registered_for_strict_markers(pytester):
    result = pytester.runpytest_inprocess("-p", "emulator.plugin", "--markers")

    result.stdout.fnmatch_lines(["@pytest.mark.paradigm(fixtures=None, seed=None, **settings):*"])


def test_explicit_loading_without_entry_points(pytester, monkeypatch):
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(test_suite=PASSING_SUITE)

    pytester.runpytest_inprocess(*STRICT, "-p", "anyio").assert_outcomes(passed=4)


def test_pytest_plugins_in_a_conftest_loads_it_once(pytester):
    pytester.makeconftest('pytest_plugins = ["emulator.plugin"]')
    pytester.makepyfile(test_suite=PASSING_SUITE)

    pytester.runpytest_inprocess("-p", "no:cacheprovider", "-W", "error").assert_outcomes(passed=4)


def test_xdist_workers_each_get_their_own_server(pytester, monkeypatch):
    # Autoloading this venv's other plugins (hypothesis, schemathesis) costs 2 s per process: load only ours.
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(test_workers="""
        import os
        import pytest

        @pytest.mark.parametrize("n", range(8))
        def test_call(paradigm_emulator, paradigm_client, n):
            paradigm_client.models.list()
            paradigm_emulator.assert_called("models", times=1)
            with open(os.environ["PYTEST_XDIST_WORKER"] + ".url", "a") as seen:
                seen.write(paradigm_emulator.base_url + "\\n")
    """)

    result = pytester.runpytest_subprocess(*STRICT, "-p", "xdist", "-n", "2", timeout=120)

    result.assert_outcomes(passed=8)
    urls = {path.stem: set(path.read_text().split()) for path in pytester.path.glob("gw*.url")}
    assert sorted(urls) == ["gw0", "gw1"]
    assert [len(seen) for seen in urls.values()] == [1, 1]  # one server per worker, for all its tests
    assert urls["gw0"] != urls["gw1"]


# -- against an emulator that runs elsewhere (--paradigm-url / PARADIGM_EMULATOR_URL) -------------------


def test_paradigm_url_runs_the_same_suite_against_a_running_emulator(pytester, make_server):
    running = make_server()
    pytester.makepyfile(test_suite=PASSING_SUITE, test_where="""
        def test_the_handle_is_the_running_emulator(paradigm_emulator, paradigm_client):
            paradigm_client.models.list()
            paradigm_emulator.assert_called("models", times=1)
            with open("where.txt", "w") as f:
                f.write(paradigm_emulator.root_url)
    """)

    result = pytester.runpytest_inprocess(*STRICT, "--paradigm-url", running.v2)

    result.assert_outcomes(passed=5)
    assert (pytester.path / "where.txt").read_text() == running.base_url
    assert [e.path for e in running.emulator.journal.entries()][-1] == "/api/v2/models"


def test_the_environment_variable_names_the_emulator_too(pytester, make_server, monkeypatch):
    running = make_server()
    monkeypatch.setenv("PARADIGM_EMULATOR_URL", running.base_url)
    pytester.makepyfile(test_suite="""
        def test_remote(paradigm_emulator):
            assert paradigm_emulator.root_url == paradigm_emulator.server.base_url
            paradigm_emulator.add_fixture({"name": "remote", "response": {"content": "x"}})
            assert [f["name"] for f in paradigm_emulator.fixtures] == ["remote"]
    """)

    pytester.runpytest_inprocess(*STRICT).assert_outcomes(passed=1)
    # The session scripted its own test space, and cleared it when it ended: nothing is left behind.
    assert running.emulator.scripts.all() == []


def test_a_wrong_paradigm_url_fails_with_one_clear_message(pytester):
    pytester.makepyfile(test_suite="""
        def test_one(paradigm_emulator):
            pass

        def test_two(paradigm_emulator):
            pass
    """)

    result = pytester.runpytest_inprocess(*STRICT, "--paradigm-url", "http://127.0.0.1:9/api/v2")

    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        ["*the Paradigm emulator at http://127.0.0.1:9/api/v2 (--paradigm-url*is not usable*"]
    )


def test_a_marker_asking_for_other_settings_is_refused_with_a_running_emulator(pytester, make_server):
    running = make_server()
    pytester.makepyfile(test_suite="""
        import pytest

        @pytest.mark.paradigm(seed=7)
        def test_seeded(paradigm_emulator):
            pass
    """)

    result = pytester.runpytest_inprocess(*STRICT, "--paradigm-url", running.base_url)

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*asks for emulator settings (seed)*run it with those settings*"])


def test_a_limit_set_in_a_test_throttles_it_and_the_next_test_is_free(pytester):
    pytester.makepyfile(test_limit="""
        import openai
        import pytest

        def ask(client):
            return client.chat.completions.create(
                model="alfred-4.2", messages=[{"role": "user", "content": "Hi"}])

        def test_throttled(paradigm_emulator, paradigm_client):
            paradigm_emulator.limit(rpm=2)
            answer = paradigm_client.chat.completions.with_raw_response.create(
                model="alfred-4.2", messages=[{"role": "user", "content": "Hi"}])
            assert answer.headers["x-ratelimit-limit-requests"] == "2"
            ask(paradigm_client)
            with pytest.raises(openai.RateLimitError):
                ask(paradigm_client.with_options(max_retries=0))

        def test_the_next_test_is_free(paradigm_client):
            for _ in range(4):
                ask(paradigm_client)

        def test_lifted_within_the_test(paradigm_emulator, paradigm_client):
            paradigm_emulator.limit(rpm=1)
            ask(paradigm_client)
            paradigm_emulator.limit()
            for _ in range(3):
                ask(paradigm_client)
    """)

    pytester.runpytest_inprocess(*STRICT).assert_outcomes(passed=3)
