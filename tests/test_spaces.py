"""Test spaces on one shared emulator, through real HTTP on both backends: what one key's session
posts, counts, reads and resets through the control API (X-Emulator-Api-Key) is its company's
alone; fixture files apply everywhere and count per space; the admin token addresses all."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.conftest import TIMEOUT, backend_overrides
from tests.test_users import users_file

CHAT = "/api/v2/chat/completions"
BACKENDS = pytest.mark.parametrize("kind", ["memory", "redis"])


def say(content: str) -> dict:
    return {"model": "alfred-4.2", "messages": [{"role": "user", "content": content}], "max_tokens": 8}


def answer(http: httpx.Client, key: str, content: str = "Hello") -> str:
    response = http.post(CHAT, json=say(content), headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    return response.json()["choices"][0]["message"]["content"]


def space(key: str) -> dict[str, str]:
    return {"X-Emulator-Api-Key": key}


def script(http: httpx.Client, key: str | None, content: str, **extra: object) -> None:
    fixture = {"name": "greeting", "match": {"operation": "chat"}, "response": {"content": content}, **extra}
    posted = http.post("/_emulator/fixtures", json=fixture, headers=space(key) if key else {})
    assert posted.status_code == 201, posted.text


@BACKENDS
def test_two_sessions_script_the_same_rule_name_without_seeing_each_other(kind: str, make_server) -> None:
    running = make_server(**backend_overrides(kind))
    with httpx.Client(base_url=running.base_url, timeout=TIMEOUT) as http:
        script(http, "suite-a", "from A")
        script(http, "suite-b", "from B")
        assert answer(http, "suite-a") == "from A"
        assert answer(http, "suite-b") == "from B"
        assert answer(http, "suite-c") not in ("from A", "from B")  # a third key: generated text
        listed = http.get("/_emulator/fixtures", headers=space("suite-a")).json()["fixtures"]
        assert [f["response"]["content"] for f in listed] == ["from A"]
        assert len(http.get("/_emulator/fixtures").json()["fixtures"]) == 2  # the admin's view: all


@BACKENDS
def test_the_journal_and_reset_of_a_space_leave_the_others_alone(kind: str, make_server) -> None:
    running = make_server(**backend_overrides(kind))
    with httpx.Client(base_url=running.base_url, timeout=TIMEOUT) as http:
        script(http, "suite-a", "from A", times=1)
        script(http, "suite-b", "from B")
        assert answer(http, "suite-a", "one") == "from A"
        answer(http, "suite-b", "two")
        answer(http, "suite-a", "three")  # used up: generated
        mine = http.get("/_emulator/journal", headers=space("suite-a")).json()["requests"]
        assert [e["body"]["messages"][0]["content"] for e in mine] == ["three", "one"]
        assert http.post("/_emulator/reset", headers=space("suite-a")).json()["fixtures"] == 1
        assert http.get("/_emulator/journal", headers=space("suite-a")).json()["requests"] == []
        assert http.get("/_emulator/fixtures", headers=space("suite-a")).json()["fixtures"] == []
        theirs = http.get("/_emulator/journal", headers=space("suite-b")).json()["requests"]
        assert [e["body"]["messages"][0]["content"] for e in theirs] == ["two"]
        assert answer(http, "suite-b") == "from B"
        assert len(http.get("/_emulator/journal").json()["requests"]) == 4  # the admin sees everything
        # One space's fixture cannot be deleted from another.
        assert http.delete("/_emulator/fixtures/greeting", headers=space("suite-a")).status_code == 404
        assert http.delete("/_emulator/fixtures/greeting", headers=space("suite-b")).status_code == 200


@BACKENDS
def test_fixture_files_apply_everywhere_and_count_per_space(kind: str, tmp_path: Path, make_server) -> None:
    (tmp_path / "seq.yaml").write_text(
        "fixtures:\n  - name: sequence\n    match: {operation: chat}\n"
        "    responses:\n      - {content: first}\n      - {content: second}\n", encoding="utf-8")
    running = make_server(fixtures_dir=tmp_path, **backend_overrides(kind))
    with httpx.Client(base_url=running.base_url, timeout=TIMEOUT) as http:
        assert [answer(http, "suite-a") for _ in range(2)] == ["first", "second"]
        assert answer(http, "suite-b") == "first"  # its own counter
        listed = http.get("/_emulator/fixtures", headers=space("suite-a")).json()["fixtures"]
        assert [f["uses"] for f in listed] == [2]
        http.post("/_emulator/reset", headers=space("suite-a")).raise_for_status()
        assert answer(http, "suite-a") == "first"  # back to the start
        assert answer(http, "suite-b") == "second"  # untouched


@BACKENDS
def test_users_of_one_company_share_a_space(kind: str, tmp_path: Path, make_server) -> None:
    running = make_server(users=users_file(tmp_path), **backend_overrides(kind))
    with httpx.Client(base_url=running.base_url, timeout=TIMEOUT) as http:
        script(http, "alice-key", "for Acme")
        assert answer(http, "bob-key") == "for Acme"  # Alice and Bob are both of Acme
        assert answer(http, "carol-key") != "for Acme"  # Carol is of Globex
        unknown = http.get("/_emulator/fixtures", headers=space("stranger"))
        assert unknown.status_code == 401 and "stranger" not in unknown.text


def test_with_an_admin_token_a_key_addresses_only_its_own_space(make_server) -> None:
    running = make_server(admin_token="s3cret")
    with httpx.Client(base_url=running.base_url, timeout=TIMEOUT) as http:
        assert http.get("/_emulator/fixtures").status_code == 401
        assert http.get("/_emulator/fixtures", headers={"X-Emulator-Admin-Token": "wrong"}).status_code == 401
        script(http, "suite-a", "from A")  # its own space needs no token
        assert http.get("/_emulator/journal", headers=space("suite-a")).status_code == 200
        admin = {"X-Emulator-Admin-Token": "s3cret"}
        assert len(http.get("/_emulator/fixtures", headers=admin).json()["fixtures"]) == 1
        assert http.get("/_emulator/metrics").status_code == 401
        assert http.get("/_emulator/metrics", headers=space("suite-a")).status_code == 401
        assert http.get("/_emulator/metrics", headers=admin).status_code == 200


@BACKENDS
def test_a_space_s_reset_removes_its_files_and_threads_and_no_one_else_s(kind: str, make_server) -> None:
    running = make_server(**backend_overrides(kind))
    with httpx.Client(base_url=running.base_url, timeout=TIMEOUT) as http:
        made = {}
        for key in ("suite-a", "suite-b"):
            auth = {"Authorization": f"Bearer {key}"}
            file = http.post("/api/v2/files", files={"file": ("n.txt", b"Notes.")}, headers=auth).json()
            thread = http.post("/api/v3/threads", json={"name": key}, headers=auth).json()
            made[key] = (file["id"], thread["id"], auth)
        reset = http.post("/_emulator/reset", headers=space("suite-a")).json()
        assert (reset["files"], reset["threads"]) == (1, 1)
        file_a, thread_a, auth_a = made["suite-a"]
        assert http.get(f"/api/v2/files/{file_a}", headers=auth_a).status_code == 404
        assert http.get(f"/api/v3/threads/{thread_a}", headers=auth_a).status_code == 404
        file_b, thread_b, auth_b = made["suite-b"]
        assert http.get(f"/api/v2/files/{file_b}", headers=auth_b).status_code == 200
        assert http.get(f"/api/v3/threads/{thread_b}", headers=auth_b).status_code == 200
