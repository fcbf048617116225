"""paradigm-emulator drift: a recording of deliberately altered shapes, every alteration reported and
nothing else."""

from __future__ import annotations

import json

import httpx
import pytest
import yaml

from emulator.cli import main
from emulator.config import Settings
from emulator.server import EmulatorServer
from tests.upstream_support import AUTH, CHAT

ALTERED_CHAT = {**CHAT, "messages": [{"role": "user", "content": "alter the object"}]}
STREAM = {**CHAT, "stream": True}
EMBED = {"model": "multilingual-e5-large", "input": ["one text"]}


def altered_fixtures(reference: EmulatorServer) -> list[dict]:
    """Answers of a plain emulator, each altered in one known way, as raw fixtures."""
    base = reference.base_url
    models = httpx.get(base + "/api/v2/models", headers=AUTH).json()
    for model in models["data"]:
        del model["owned_by"]  # a field dropped
        model["max_model_len"] = str(model["max_model_len"])  # a type changed
    chat = httpx.post(base + "/api/v2/chat/completions", json=ALTERED_CHAT, headers=AUTH).json()
    chat["object"] = "chat.completions"  # a constant changed
    stream = httpx.post(base + "/api/v2/chat/completions", json=STREAM, headers=AUTH).text
    renamed = "".join(
        f"event: chunk\n{event}\n\n" if "[DONE]" not in event else f"{event}\n\n"
        for event in stream.split("\n\n")
        if event
    )  # an event renamed
    return [
        {
            "name": "models",
            "match": {"operation": "GET /api/v2/models"},
            "response": {
                "raw": {
                    "status": 200,
                    "headers": {"content-type": "application/json"},
                    "body": json.dumps(models),
                }
            },
        },
        {
            "name": "object",
            "match": {"last_user_message": "alter the object"},
            "response": {
                "raw": {
                    "status": 200,
                    "headers": {"content-type": "application/json"},
                    "body": json.dumps(chat),
                }
            },
        },
        {
            "name": "stream",
            "match": {"body": {"$.stream": True}},
            "response": {
                "raw": {
                    "status": 200,
                    "headers": {"content-type": "text/event-stream"},
                    "events": [{"text": renamed}],
                }
            },
        },
    ]


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    root = tmp_path_factory.mktemp("drift")
    altered, folder = root / "altered", root / "recording"
    altered.mkdir()
    with EmulatorServer(Settings()) as reference:
        (altered / "altered.yaml").write_text(yaml.safe_dump({"fixtures": altered_fixtures(reference)}))
    with (
        EmulatorServer(Settings(seed=4, fixtures_dir=altered)) as upstream,
        EmulatorServer(Settings(upstream=upstream.base_url, record=folder)) as proxy,
    ):
        base = proxy.base_url
        httpx.get(base + "/api/v2/models", headers=AUTH).raise_for_status()
        httpx.post(base + "/api/v2/chat/completions", json=ALTERED_CHAT, headers=AUTH).raise_for_status()
        httpx.post(base + "/api/v2/chat/completions", json=STREAM, headers=AUTH).raise_for_status()
        # Not altered: the same shapes as the emulator's own, whatever the seed.
        httpx.post(base + "/api/v2/chat/completions", json=CHAT, headers=AUTH).raise_for_status()
        httpx.post(base + "/api/v2/embeddings", json=EMBED, headers=AUTH).raise_for_status()
        made = httpx.post(
            base + "/api/v2/files",
            headers=AUTH,
            data={"collection_type": "private"},
            files={"file": ("a.txt", b"drift " * 50, "text/plain")},
        ).json()
        httpx.get(base + f"/api/v2/files/{made['id']}", headers=AUTH).raise_for_status()
        upstream_url = upstream.base_url
    return folder, altered, upstream_url


def test_every_alteration_is_reported_and_nothing_else(recording, capsys):
    folder, _, _ = recording
    assert main(["drift", str(folder), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    found = {(d["operation"], d["kind"], d["at"]) for d in report["differences"]}
    assert found == {
        ("GET /api/v2/models", "added", "$.data[].owned_by"),  # the emulator has it, the recording does not
        ("GET /api/v2/models", "type", "$.data[].max_model_len"),
        ("POST /api/v2/chat/completions", "constant", "$.object"),
        ("POST /api/v2/chat/completions", "events", ""),
    }
    assert report["exchanges"] == 7
    by_kind = {d["kind"]: d for d in report["differences"]}
    assert by_kind["type"]["recorded"] == "string" and by_kind["type"]["live"] == "number"
    assert by_kind["events"]["recorded"] == "chunk, [DONE]" and by_kind["events"]["live"] == "message, [DONE]"
    assert [d["kind"] for d in report["differences"]] == [
        "type",
        "events",
        "added",
        "constant",
    ]  # worst first


def test_the_text_report_is_one_line_per_difference_with_its_path(recording, capsys):
    folder, _, _ = recording
    assert main(["drift", str(folder)]) == 1
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert len(lines) == 4
    assert lines[0].startswith("GET /api/v2/models $.data[].max_model_len: type: recorded string, now number")
    assert "4 difference(s) in 2 operation(s)" in captured.err


def test_against_the_service_that_was_recorded_nothing_differs(recording, capsys):
    folder, altered, _ = recording
    with EmulatorServer(Settings(seed=4, fixtures_dir=altered)) as same:
        assert main(["drift", str(folder), "--against", same.base_url]) == 0
    assert capsys.readouterr().out == ""


def test_a_status_or_content_type_change_is_reported_first(tmp_path, capsys):
    (tmp_path / "r.yaml").write_text(
        yaml.safe_dump(
            {
                "fixtures": [
                    {
                        "name": "gone",
                        "match": {
                            "operation": "models",
                            "request": {"method": "GET", "path": "/api/v2/models"},
                        },
                        "response": {
                            "raw": {
                                "status": 404,
                                "headers": {"content-type": "application/json"},
                                "body": "{}",
                            }
                        },
                    },
                    {
                        "name": "text",
                        "match": {
                            "operation": "GET /api/v3/users/me",
                            "request": {"method": "GET", "path": "/api/v3/users/me"},
                        },
                        "response": {
                            "raw": {"status": 200, "headers": {"content-type": "text/plain"}, "body": "x"}
                        },
                    },
                ]
            }
        )
    )
    assert main(["drift", str(tmp_path), "--json"]) == 1
    kinds = [d["kind"] for d in json.loads(capsys.readouterr().out)["differences"]]
    assert kinds == ["status", "content-type"]


def test_a_broken_recording_is_exit_2_with_file_and_line(tmp_path, capsys):
    (tmp_path / "r.yaml").write_text(
        "fixtures:\n  - match: {operation: models}\n    response:\n      raw: {status: x}\n"
    )
    assert main(["drift", str(tmp_path)]) == 2
    assert f"{tmp_path / 'r.yaml'}:4" in capsys.readouterr().err


def test_against_must_be_an_http_url(tmp_path, capsys):
    assert main(["drift", str(tmp_path), "--against", "paradigm.lighton.ai"]) == 2
    assert "--against must be an http(s) URL" in capsys.readouterr().err
