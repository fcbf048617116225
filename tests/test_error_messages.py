"""Error messages that say what to do, each as a new user meets it: the CLI, HTTP, the plugin."""

from __future__ import annotations

import socket
import subprocess
import sys

import httpx
import pytest

from emulator.cli import main
from tests.cli_process import ROOT

CHAT = "/api/v2/chat/completions"


def test_a_port_in_use_is_one_line_naming_it_and_the_port_flag():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "emulator", "serve", "--port", str(port)], cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and f"port {port} is already in use" in lines[0] and "--port" in lines[0]
    assert "Errno" not in done.stderr


@pytest.mark.parametrize("path, meant", [("/v1/chat/completions", "/api/v2/chat/completions"),
                                         ("/chat/completions", "/api/v2/chat/completions"),
                                         ("/v1/models", "/api/v2/models")])
def test_a_path_outside_paradigms_api_names_the_base_urls(server, http, path, meant):
    response = http.post(path, json={}) if "chat" in path else http.get(path)
    assert response.status_code == 404
    detail = response.json()["detail"]
    assert f"{server.base_url}/api/v2" in detail and f"{server.base_url}/api/v3" in detail
    assert f"{server.base_url}{meant}" in detail


def test_an_unknown_path_under_api_v2_keeps_paradigms_own_404(http):
    assert http.get("/api/v2/no-such-thing").json() == {"detail": "Not found."}


def test_a_mistyped_serve_flag_shows_the_serve_usage_and_the_closest_flags(capsys):
    assert main(["serve", "--itl-mss", "3"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: paradigm-emulator serve") and "--itl-ms" in err.splitlines()[-1]
    assert "did you mean --itl-ms" in err
    assert main(["--prot", "80"]) == 2  # serve is the default command
    assert "did you mean --port" in capsys.readouterr().err


@pytest.mark.parametrize("flag, value, expected", [
    ("--itl-ms", "fast", "--itl-ms expects a number"),
    ("--port", "eighty", "--port expects a whole number"),
    ("--max-body-mb", "big", "--max-body-mb expects a number")])
def test_a_non_numeric_value_for_a_numeric_flag_says_a_number_is_expected(capsys, flag, value, expected):
    assert main(["serve", flag, value]) == 2
    err = capsys.readouterr().err
    assert expected in err and repr(value) in err


def test_a_mistyped_plugin_keyword_lists_the_valid_ones_and_the_closest(emulator):
    from emulator.testing.rules import build_match

    with pytest.raises(TypeError) as raised:
        build_match("chat", contain="weather")
    message = str(raised.value)
    assert "did you mean contains=?" in message and "any_message" in message and "has_tools" in message


def test_a_mistyped_keyword_of_the_plugin_handle(paradigm_emulator):
    with pytest.raises(TypeError, match=r"unknown condition contain=: did you mean contains=\?"):
        paradigm_emulator.on_chat(contain="weather")
    with pytest.raises(TypeError, match=r"did you mean system="):
        paradigm_emulator.on_chat(sytem="be brief")


def _chat(http: httpx.Client, **extra) -> httpx.Response:
    return http.post(CHAT, json={"model": "alfred-4.2", "messages": [{"role": "user", "content": "weather?"}],
                                 **extra})


def test_a_bad_ref_in_a_tools_parameters_names_tools(http):
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"$ref": "#/$defs/missing"}}, "required": ["city"]}}}
    response = _chat(http, tools=[tool], tool_choice="required")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "tools" and "#/$defs/missing" in error["message"]


def test_a_bad_pattern_in_a_json_schema_names_response_format(http):
    schema = {"type": "object", "properties": {"code": {"type": "string", "pattern": "([a-z"}},
              "required": ["code"]}
    response = _chat(http, response_format={"type": "json_schema",
                                            "json_schema": {"name": "x", "schema": schema}})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "response_format"


def test_a_bad_guided_regex_still_names_guided_regex(http):
    response = _chat(http, guided_regex="([a-z")
    assert response.status_code == 400 and response.json()["error"]["param"] == "guided_regex"
