"""Fixture files: loading at start-up, `file:line: what is wrong`, all or nothing, hot reload."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import textwrap
import time
from pathlib import Path

import httpx
import openai
import pytest

from emulator.app import create_app
from emulator.cli import main
from emulator.config import DEFAULT_FIXTURES_DIR, Settings
from emulator.errors import StartupError
from emulator.operations import OperationNames
from emulator.scripts.loading import FixtureError, load_dirs


@pytest.fixture(autouse=True)
def clean_emulator(emulator):
    """Each test starts from a reset emulator and leaves one behind (the session server is shared)."""
    yield
    emulator.reset()


EXAMPLES = DEFAULT_FIXTURES_DIR / "examples"
GOOD = """\
fixtures:
  - name: hello
    match: {last_user_message: Hello}
    response: {content: Hi from a file}
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def ask(base_url: str, content: str = "Hello") -> str:
    with httpx.Client(base_url=base_url, headers={"Authorization": "Bearer k"}, timeout=10) as c:
        response = c.post(
            "/api/v2/chat/completions",
            json={"model": "alfred-4.2", "messages": [{"role": "user", "content": content}]},
        )
    assert response.status_code == 200, response.text
    return response.json()["choices"][0]["message"]["content"]


def test_fixtures_dir_is_loaded_at_start(make_server, tmp_path):
    write(tmp_path, "greetings.yaml", GOOD)
    running = make_server(fixtures_dir=tmp_path)
    assert ask(running.base_url) == "Hi from a file"


def test_files_load_in_path_order_with_default_names(tmp_path):
    write(tmp_path, "b.yaml", "- response: {content: b}\n")
    write(tmp_path, "a/z.yml", "fixtures:\n  - response: {content: a}\n  - response: {content: a2}\n")
    write(tmp_path, "c.json", '[{"response": {"content": "c"}}]')
    write(tmp_path, ".hidden.yaml", "this: is not loaded")
    write(tmp_path, "notes.txt", "not a fixture file")
    emulator = create_app(Settings(fixtures_dir=tmp_path)).state.emulator
    listed = asyncio.run(emulator.scripts.all())
    assert [f["name"] for f in listed] == ["a/z.yml:0", "a/z.yml:1", "b.yaml:0", "c.json:0"]
    assert listed[0]["source"] == f"{tmp_path / 'a' / 'z.yml'}:2"


BROKEN = [
    pytest.param("fixtures:\n  - match: {model: [unclosed\n", 3, "not valid YAML", id="yaml-syntax"),
    pytest.param(
        "fixtures:\n  - name: x\n    respnse: {content: hi}\n", 2, "unknown key 'respnse'", id="unknown-key"
    ),
    pytest.param(
        "fixtures:\n  - name: x\n    match:\n      model: 42\n",
        4,
        "match.model: expected a string (equals), or {equals: ...}",
        id="wrong-matcher-type",
    ),
    pytest.param(
        "fixtures:\n  - name: x\n    match:\n      last_user_message: {regex: 'a('}\n",
        4,
        "match.last_user_message.regex: not a valid regular expression",
        id="bad-regex",
    ),
    pytest.param(
        "fixtures:\n  - name: x\n    match:\n      body: {'$.a..b': 1}\n",
        4,
        "cannot read the JSON path '$.a..b'",
        id="bad-json-path",
    ),
    pytest.param(
        "fixtures:\n  - name: x\n    response:\n      content: 'Hi {{user}}'\n",
        4,
        "unknown template variable {{user}}",
        id="bad-template",
    ),
    pytest.param(
        "fixtures:\n  - name: x\n    match:\n      operation: chta\n",
        4,
        "unknown operation 'chta'; known: chat, ",
        id="unknown-operation",
    ),
    pytest.param(
        "fixtures:\n  - name: x\n    response: {}\n    responses: [{}]\n",
        2,
        "give either response or responses, not both",
        id="response-and-responses",
    ),
    pytest.param(
        "fixtures:\n  - name: x\n    name: y\n",
        3,
        "duplicate key 'name' (first on line 2)",
        id="duplicate-key",
    ),
    pytest.param(
        "fixtures:\n  - name: x\n  - name: x\n", 3, "duplicate fixture name 'x'", id="duplicate-name"
    ),
    pytest.param(
        "fixtures:\n  - times: 0\n", 2, "times: expected a number of uses >= 1, got 0", id="times-zero"
    ),
    pytest.param("fixture:\n  - name: x\n", 1, "expected a `fixtures:` list", id="wrong-top-level"),
    pytest.param(
        "fixtures:\n  - response:\n      stream: {truncate_after: 1, drop_after: 2}\n",
        3,
        "give exactly one of truncate_after, error_after or drop_after",
        id="two-faults",
    ),
    pytest.param(
        "fixtures:\n  - response:\n      error: {status: 200}\n",
        3,
        "error.status: expected an HTTP status from 400 to 599, got 200",
        id="error-status",
    ),
    pytest.param(
        "fixtures:\n  - response:\n      tool_calls: [{arguments: {}}]\n",
        3,
        "tool_calls.0: missing key 'name'",
        id="tool-call-without-name",
    ),
]


@pytest.fixture(scope="module")
def operations():
    return OperationNames(create_app(Settings()).state.emulator.operations)


@pytest.mark.parametrize("text, line, problem", BROKEN)
def test_a_broken_file_is_refused_naming_file_and_line(tmp_path, operations, text, line, problem):
    path = write(tmp_path, "broken.yaml", text)
    with pytest.raises(FixtureError) as caught:
        load_dirs([tmp_path], operations)  # what start-up runs (create_app costs a spec load per case)
    assert f"{path}:{line}: " in str(caught.value)
    assert problem in str(caught.value)


def test_a_broken_file_stops_start_up(tmp_path):
    path = write(tmp_path, "broken.yaml", BROKEN[1].values[0])
    with pytest.raises(StartupError, match=f"{path}:2: fixture 'x': unknown key 'respnse'"):
        create_app(Settings(fixtures_dir=tmp_path))


def test_every_problem_of_every_file_is_reported(tmp_path, operations):
    write(tmp_path, "a.yaml", "- match: {modle: x}\n- response: {content: 1}\n- times: -1\n")
    write(tmp_path, "b.yaml", "- name: [\n")
    with pytest.raises(FixtureError) as caught:
        load_dirs([tmp_path], operations)
    lines = str(caught.value).splitlines()
    assert [line.split(": ")[0].rsplit("/", 1)[-1] for line in lines] == [
        "a.yaml:1",
        "a.yaml:2",
        "a.yaml:3",
        "b.yaml:2",
    ]


def test_the_cli_refuses_to_start_with_a_broken_file(tmp_path, capsys):
    path = write(tmp_path, "broken.yaml", "- respone: {}\n")
    assert main(["serve", "--port", "0", "--fixtures-dir", str(tmp_path)]) == 2
    assert (
        f"cannot start: {path}:1: fixture #0 (broken.yaml:0): unknown key 'respone'"
        in capsys.readouterr().err
    )


def test_a_missing_fixtures_dir_is_refused(tmp_path, operations):
    with pytest.raises(FixtureError, match="does not exist"):
        load_dirs([tmp_path / "nowhere"], operations)


def test_a_fixtures_dir_that_is_a_file_is_refused_as_not_a_directory(tmp_path, capsys):
    path = write(tmp_path, "one.yaml", "fixtures: []\n")
    assert main(["serve", "--port", "0", "--fixtures-dir", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"cannot start: {path}: --fixtures-dir must be a directory" in err
    assert "not a directory" in err and "does not exist" not in err


def test_shipped_examples_load_and_are_commented():
    emulator = create_app(Settings(fixtures_dir=EXAMPLES)).state.emulator
    assert len(asyncio.run(emulator.scripts.all())) >= 15
    files = sorted(EXAMPLES.glob("*.yaml"))
    assert len(files) >= 6
    assert all(path.read_text().startswith("# ") for path in files)


def test_shipped_models_and_workspaces_are_not_fixture_files():
    emulator = create_app(Settings()).state.emulator
    assert asyncio.run(emulator.scripts.all()) == []


def edit(path: Path, text: str) -> None:
    """Rewrite a file so that its signature changes even within one mtime tick."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(before + 1_000_000_000, before + 1_000_000_000))


def wait_for(base_url: str, expected: str, deadline_s: float = 5.0) -> str:
    end = time.monotonic() + deadline_s
    seen = ask(base_url)
    while seen != expected and time.monotonic() < end:
        time.sleep(0.02)
        seen = ask(base_url)
    return seen


def test_files_are_reloaded_when_they_change(make_server, tmp_path, caplog):
    path = write(tmp_path, "greetings.yaml", GOOD)
    running = make_server(fixtures_dir=tmp_path)
    running.emulator.scripts.reload_interval_s = 0.05
    assert ask(running.base_url) == "Hi from a file"
    edit(path, GOOD.replace("Hi from a file", "Edited"))
    assert wait_for(running.base_url, "Edited") == "Edited"
    with caplog.at_level(logging.ERROR, logger="emulator.scripts"):
        edit(path, GOOD.replace("response:", "respnse:"))
        assert running.emulator.scripts.reload_if_changed() is False  # what the next request would run
        assert ask(running.base_url) == "Edited"  # a broken edit keeps what was loaded
    assert f"{path}:2: fixture 'hello': unknown key 'respnse'" in caplog.text
    write(tmp_path, "more/late.yaml", "- match: {last_user_message: Late}\n  response: {content: added}\n")
    edit(path, GOOD.replace("Hi from a file", "Fixed"))
    assert wait_for(running.base_url, "Fixed") == "Fixed"
    assert ask(running.base_url, "Late") == "added"


def test_the_control_api_shows_an_edited_file_without_an_api_request(make_server, tmp_path):
    path = write(tmp_path, "greetings.yaml", GOOD)
    running = make_server(fixtures_dir=tmp_path)
    running.emulator.scripts.reload_interval_s = 0.05
    edit(path, GOOD.replace("name: hello", "name: renamed"))
    end = time.monotonic() + 5
    names = []
    while names != ["renamed"] and time.monotonic() < end:
        listed = httpx.get(running.base_url + "/_emulator/fixtures", timeout=10).json()["fixtures"]
        names = [f["name"] for f in listed]
        time.sleep(0.02)
    assert names == ["renamed"]


def test_a_deleted_file_takes_its_fixtures_away(make_server, tmp_path):
    path = write(tmp_path, "greetings.yaml", GOOD)
    running = make_server(fixtures_dir=tmp_path)
    running.emulator.scripts.reload_interval_s = 0.05
    path.unlink()
    end = time.monotonic() + 5
    while running.emulator.scripts.all() and time.monotonic() < end:
        ask(running.base_url)
        time.sleep(0.02)
    assert ask(running.base_url) != "Hi from a file"


def test_reset_keeps_file_fixtures_and_restarts_their_sequences(make_server, tmp_path):
    write(tmp_path, "seq.yaml", "- responses: [{content: one}, {content: two}]\n")
    running = make_server(fixtures_dir=tmp_path)
    assert [ask(running.base_url) for _ in range(2)] == ["one", "two"]
    running.emulator.reset()
    assert ask(running.base_url) == "one"


def test_load_dir_adds_runtime_fixtures_that_reset_removes(emulator, http, tmp_path):
    write(tmp_path, "greetings.yaml", GOOD)
    assert emulator.scripts.load_dir(tmp_path) == ["greetings.yaml:0"] or emulator.scripts.all()
    assert ask(str(http.base_url).rstrip("/")) == "Hi from a file"
    emulator.reset()
    assert ask(str(http.base_url).rstrip("/")) != "Hi from a file"


def test_load_dir_persistent_survives_reset(make_server, tmp_path):
    write(tmp_path, "greetings.yaml", GOOD)
    running = make_server()
    running.emulator.scripts.load_dir(tmp_path, persistent=True)
    running.emulator.reset()
    assert ask(running.base_url) == "Hi from a file"


def test_load_dir_is_all_or_nothing(emulator, tmp_path):
    write(tmp_path, "a.yaml", GOOD)
    write(tmp_path, "b.yaml", "- match: {model: 1}\n")
    with pytest.raises(FixtureError, match="b.yaml:1"):
        emulator.scripts.load_dir(tmp_path)
    assert emulator.scripts.all() == []


# -- the shipped examples, run as documentation ----------------------------------------------------

WEATHER_TOOL = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The weather in a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]


def test_example_three_turn_tool_loop_runs_with_the_sdk(emulator, client):
    emulator.scripts.load_dir(EXAMPLES)
    messages = [{"role": "user", "content": "What's the weather in Paris and London?"}]
    for _ in range(5):  # an agent loop, bounded
        message = (
            client.chat.completions.create(model="alfred-4.2", messages=messages, tools=WEATHER_TOOL)
            .choices[0]
            .message
        )
        if not message.tool_calls:
            break
        messages.append(message.model_dump(exclude_none=True))
        for call in message.tool_calls:
            city = json.loads(call.function.arguments)["city"]
            messages.append({"role": "tool", "tool_call_id": call.id, "content": f"weather in {city}"})
    assert message.content == "It is sunny in Paris (22 °C) and raining in London (14 °C)."
    assert [e.fixture for e in emulator.journal.entries()] == [
        "weather-turn-1",
        "weather-turn-2",
        "weather-turn-3",
    ]
    assert [m.get("tool_call_id") for m in messages if m["role"] == "tool"] == ["call_paris", "call_london"]


@pytest.mark.parametrize(
    "content, headers, expected",
    [
        pytest.param("Hello!", {}, "Hello! How can I help you today?", id="greeting"),
        pytest.param("echo: ping", {}, "alfred-4.2 heard: echo: ping", id="echo-template"),
        pytest.param(
            "Hello!",
            {"X-Maintenance": "on"},
            "The assistant is under maintenance; alfred-4.2 will be back soon.",
            id="priority",
        ),
        pytest.param("rate limit me", {}, "Thanks for waiting.", id="retried-429"),
    ],
)
def test_example_replies(emulator, server, content, headers, expected):
    emulator.scripts.load_dir(EXAMPLES)
    with openai.OpenAI(api_key="k", base_url=server.v2, timeout=10.0, default_headers=headers) as c:
        answer = c.chat.completions.create(
            model="alfred-4.2", messages=[{"role": "user", "content": content}]
        )
    assert answer.choices[0].message.content == expected


def test_example_stream_faults_and_vectors(emulator, client):
    emulator.scripts.load_dir(EXAMPLES)
    chunks = [
        c.choices[0].delta.content
        for c in client.chat.completions.create(
            model="alfred-4.2", messages=[{"role": "user", "content": "truncate"}], stream=True
        )
    ]
    vectors = client.embeddings.create(
        model="multilingual-e5-large", input=["a unit vector", "another unit vector"], encoding_format="float"
    )
    assert chunks == ["", "This", " answer"]
    assert [d.embedding for d in vectors.data] == [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
