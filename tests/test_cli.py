"""paradigm-emulator serve: flags, their environment variables, and a real process started and stopped."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from contract import KEY, TIMEOUT, Contract

from emulator.cli import build_parser, main, settings_from_args
from emulator.config import Settings, from_env
from tests.cli_process import start_cli

ROOT = Path(__file__).resolve().parent.parent
FLAGS = [
    "--host",
    "--port",
    "--spec-dir",
    "--fixtures-dir",
    "--models",
    "--api-key",
    "--seed",
    "--ttft-ms",
    "--itl-ms",
    "--log-level",
]
STOP_S = 10.0


def test_help_lists_every_flag_with_its_env_var(capsys):
    assert main(["serve", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    for flag in FLAGS:
        assert flag in out
    for name in (
        "HOST",
        "PORT",
        "SPEC_DIR",
        "FIXTURES_DIR",
        "MODELS",
        "API_KEYS",
        "SEED",
        "TTFT_MS",
        "ITL_MS",
        "LOG_LEVEL",
    ):
        assert f"PARADIGM_EMULATOR_{name}" in out


def test_top_level_help_and_version(capsys):
    assert main(["--help"]) == 0
    assert "serve" in capsys.readouterr().out
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("paradigm-emulator ")


def test_flags_become_settings():
    args = build_parser().parse_args(
        [
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            "9001",
            "--seed",
            "7",
            "--ttft-ms",
            "120",
            "--itl-ms",
            "15.5",
            "--log-level",
            "info",
            "--models",
            "m.yaml",
            "--api-key",
            "a",
        ]
    )
    settings = settings_from_args(args)
    assert (
        settings.host,
        settings.port,
        settings.seed,
        settings.ttft_ms,
        settings.itl_ms,
        settings.log_level,
        settings.models,
        settings.api_keys,
    ) == ("0.0.0.0", 9001, 7, 120.0, 15.5, "info", Path("m.yaml"), ("a",))


def test_each_flag_has_an_env_var_and_the_flag_wins(monkeypatch):
    monkeypatch.setenv("PARADIGM_EMULATOR_SEED", "3")
    monkeypatch.setenv("PARADIGM_EMULATOR_ITL_MS", "40")
    monkeypatch.setenv("PARADIGM_EMULATOR_SPEC_DIR", "/specs")
    settings = settings_from_args(build_parser().parse_args(["serve", "--seed", "9"]))
    assert (settings.seed, settings.itl_ms, settings.spec_dir) == (9, 40.0, Path("/specs"))


def test_defaults():
    assert from_env({}) == Settings()
    assert (Settings().host, Settings().port, Settings().api_keys) == ("127.0.0.1", 8000, ())


@pytest.mark.parametrize(
    "argv, env, message",
    [
        pytest.param(["serve", "--port", "eighty"], {},
                     "--port expects a whole number, such as 8000, got 'eighty'", id="bad-flag"),
        pytest.param(
            ["serve"],
            {"PARADIGM_EMULATOR_PORT": "eighty"},
            "PARADIGM_EMULATOR_PORT expects a whole number, such as 8000, got 'eighty'",
            id="bad-env",
        ),
        pytest.param(["serve", "--log-level", "loud"], {}, "--log-level must be one of", id="bad-log-level"),
        pytest.param(["serve", "--port", "99999"], {},
                     "--port must be from 0 to 65535 (0 picks a free port), got 99999", id="port-too-high"),
        pytest.param(["serve", "--port", "-5"], {},
                     "--port must be from 0 to 65535 (0 picks a free port), got -5", id="port-negative"),
        pytest.param(["serve"], {"PARADIGM_EMULATOR_PORT": "70000"},
                     "--port must be from 0 to 65535 (0 picks a free port), got 70000", id="port-env"),
        pytest.param(
            ["serve", "--models", "/nonexistent/models.yaml"],
            {},
            "cannot start: /nonexistent/models.yaml",
            id="missing-catalog",
        ),
        pytest.param(
            ["serve", "--spec-dir", "/nonexistent"],
            {},
            "cannot start: /nonexistent: no OpenAPI *.yaml file",
            id="missing-specs",
        ),
    ],
)
def test_bad_configuration_is_refused_with_a_message(monkeypatch, capsys, argv, env, message):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_python_m_emulator_serves_until_ctrl_c(server):
    contract = Contract(server.emulator)  # the same specs as the process serves
    process, base = start_cli("--seed", "5", env={"PARADIGM_EMULATOR_API_KEYS": KEY})
    try:
        hooks = {"response": [lambda response: (response.read(), contract.check(response))]}
        with httpx.Client(base_url=base, timeout=TIMEOUT, event_hooks=hooks) as client:
            answer = client.post(
                "/api/v2/chat/completions",
                headers={"Authorization": f"Bearer {KEY}"},
                json={"model": "alfred-4", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 3},
            )
            refused = client.get("/api/v2/models", headers={"Authorization": "Bearer wrong"})
        assert answer.status_code == 200 and answer.json()["usage"]["completion_tokens"] == 3
        assert refused.status_code == 401
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=STOP_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    assert "Traceback" not in err


def test_sigterm_stops_it_gracefully(server):
    process, base = start_cli()
    try:
        listed = httpx.get(
            base + "/api/v2/models", headers={"Authorization": f"Bearer {KEY}"}, timeout=TIMEOUT
        )
        Contract(server.emulator).check(listed)
        assert listed.status_code == 200
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=STOP_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    # uvicorn shuts down, then lets the signal it caught end the process, as a shell expects
    assert process.returncode in (0, -signal.SIGTERM) and "Traceback" not in err


def test_response_of_a_cli_server_matches_the_in_process_one(server):
    """The CLI serves the same app: same bytes for the same request."""
    body = {"model": "alfred-4.2", "messages": [{"role": "user", "content": "Same?"}], "max_tokens": 8}
    process, base = start_cli()
    try:
        from_cli = httpx.post(
            base + "/api/v2/chat/completions",
            json=body,
            timeout=TIMEOUT,
            headers={"Authorization": f"Bearer {KEY}"},
        )
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=STOP_S)
    in_process = httpx.post(
        server.base_url + "/api/v2/chat/completions",
        json=body,
        timeout=TIMEOUT,
        headers={"Authorization": f"Bearer {KEY}"},
    )
    Contract(server.emulator).check(from_cli)
    assert from_cli.content == in_process.content


def test_the_library_does_not_import_the_cli():
    code = (
        "import sys, emulator.server, emulator.plugin, emulator.app; "
        "assert 'emulator.cli' not in sys.modules, sorted(m for m in sys.modules if m.startswith('emulator'))"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)


def test_every_start_up_error_is_a_startup_error():
    from emulator.catalog import CatalogError
    from emulator.errors import StartupError
    from emulator.spec import SpecError

    assert issubclass(SpecError, StartupError) and issubclass(CatalogError, StartupError)
