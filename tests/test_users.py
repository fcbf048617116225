"""Users and companies: the --users file (and what it refuses at start-up), key -> user, and who
the journal says called (never the key)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from emulator.cli import main
from emulator.identity.directory import Users, implicit_user, me_body
from emulator.identity.ownership import COMPANY, PRIVATE, owner_fields, visible
from tests.conftest import TIMEOUT, backend_overrides

CHAT = "/api/v2/chat/completions"
BODY = {"model": "alfred-4.2", "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 4}
USERS = """\
companies:
  - {id: 10, name: Acme}
  - {id: 20, name: Globex}
users:
  - {key: alice-key, id: 101, name: Alice, email: alice@acme.test, company: Acme, role: admin}
  - {key: bob-key, id: 102, name: Bob, email: bob@acme.test, company: 10}
  - {key: carol-key, id: 201, name: Carol, email: carol@globex.test, company: Globex,
     rate_limits: {rpm: 3}}
"""


def users_file(tmp_path: Path, text: str = USERS) -> Path:
    path = tmp_path / "users.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def refusal(capsys: pytest.CaptureFixture[str], *flags: str) -> str:
    assert main(["serve", "--port", "0", *flags]) == 2
    return capsys.readouterr().err


# -- the file, and what it refuses -----------------------------------------------------------------


def test_a_users_file_puts_keys_in_companies(tmp_path: Path) -> None:
    users = Users.load(users_file(tmp_path))
    alice, bob, carol = (users.of_key(k) for k in ("alice-key", "bob-key", "carol-key"))
    assert (alice.id, alice.company.name, alice.role) == (101, "Acme", "admin")
    assert bob.company == alice.company and bob.space == alice.space
    assert carol.company.name == "Globex" and carol.space != alice.space
    assert carol.limits.rpm == 3 and carol.limits.tpm is None


def test_a_duplicate_key_is_refused_with_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = users_file(tmp_path, USERS + "  - {key: alice-key, id: 301, company: Acme}\n")
    err = refusal(capsys, "--users", str(path))
    assert f"{path}:9" in err and "duplicate key" in err
    assert "alice-key" not in err  # a key is a credential: never printed


def test_an_unknown_company_is_refused_with_the_valid_names(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = users_file(tmp_path, USERS.replace("company: Globex", "company: Initech"))
    err = refusal(capsys, "--users", str(path))
    assert f"{path}:7" in err and "unknown company 'Initech'" in err
    assert "'Acme' (id 10)" in err and "'Globex' (id 20)" in err


def test_a_typo_in_a_field_is_refused_with_the_valid_fields(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = users_file(tmp_path, USERS.replace("email: bob@acme.test", "emial: bob@acme.test"))
    err = refusal(capsys, "--users", str(path))
    assert f"{path}:6" in err and "unknown user field 'emial'" in err
    assert "key, id, name, email, company, role, groups, rate_limits" in err


def test_the_users_file_comes_from_the_environment_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PARADIGM_EMULATOR_USERS", str(tmp_path / "missing.yaml"))
    err = refusal(capsys)
    assert "--users" in err and "missing.yaml" in err


@pytest.mark.parametrize(("flags", "named"), [(("--rpm", "0"), "--rpm"), (("--rpm", "abc"), "--rpm"),
                                              (("--tpm", "-5"), "--tpm"), (("--rate-window-s", "0"),
                                                                           "--rate-window-s")])
def test_a_malformed_limit_stops_the_cli_naming_the_flag(flags: tuple[str, str], named: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert named in refusal(capsys, *flags)


@pytest.mark.parametrize(("variable", "value"), [("PARADIGM_EMULATOR_RPM", "abc"),
                                                 ("PARADIGM_EMULATOR_TPM", "1.5")])
def test_a_malformed_limit_in_the_environment_stops_the_cli_naming_the_variable(
        variable: str, value: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(variable, value)
    assert variable in refusal(capsys)


# -- keys -> users -------------------------------------------------------------------------------------


def test_each_unknown_key_is_its_own_user_in_its_own_company() -> None:
    users = Users()
    one, again, other = users.of_key("key-one"), users.of_key("key-one"), users.of_key("key-two")
    assert one == again == implicit_user("key-one")  # the same on every worker and run
    assert one.id != other.id and one.company != other.company
    assert "key-one" not in repr(one)


@pytest.mark.parametrize("kind", ["memory", "redis"])
def test_with_users_a_key_not_in_the_file_is_refused_as_an_unknown_token(kind: str, tmp_path: Path,
                                                                          make_server) -> None:
    running = make_server(users=users_file(tmp_path), **backend_overrides(kind))
    with httpx.Client(base_url=running.base_url, timeout=TIMEOUT) as http:
        refused = http.post(CHAT, json=BODY, headers={"Authorization": "Bearer stranger"})
        assert refused.status_code == 401 and refused.json() == {"detail": "Invalid token."}
        assert refused.headers["www-authenticate"] == 'Bearer realm="api"'
        assert http.post(CHAT, json=BODY, headers={"Authorization": "Bearer bob-key"}).status_code == 200


@pytest.mark.parametrize("kind", ["memory", "redis"])
def test_the_journal_says_who_called_and_never_the_key(kind: str, tmp_path: Path, make_server) -> None:
    running = make_server(users=users_file(tmp_path), **backend_overrides(kind))
    with httpx.Client(base_url=running.base_url, timeout=TIMEOUT) as http:
        for key in ("alice-key", "carol-key"):
            assert http.post(CHAT, json=BODY, headers={"Authorization": f"Bearer {key}"}).status_code == 200
        raw = http.get("/_emulator/journal")
        entries = raw.json()["requests"]
        assert [(e["user"], e["company"]) for e in entries] == [(201, 20), (101, 10)]
        assert "alice-key" not in raw.text and "carol-key" not in raw.text
        acme = http.get("/_emulator/journal", params={"company": 10}).json()["requests"]
        assert [e["user"] for e in acme] == [101]
        carol = http.get("/_emulator/journal", params={"user": 201}).json()["requests"]
        assert [e["user"] for e in carol] == [201]
        assert http.get("/_emulator/journal", params={"user": "alice"}).status_code == 400


# -- what a user may see, and users/me -----------------------------------------------------------------


def test_private_items_are_their_owners_and_company_items_their_companys(tmp_path: Path) -> None:
    users = Users.load(users_file(tmp_path))
    alice, bob, carol = (users.of_key(k) for k in ("alice-key", "bob-key", "carol-key"))
    private, shared = owner_fields(alice, PRIVATE), owner_fields(alice, COMPANY)
    assert visible(private, alice) and not visible(private, bob) and not visible(private, carol)
    assert visible(shared, alice) and visible(shared, bob) and not visible(shared, carol)
    assert visible({"id": "seeded"}, carol)  # what fixture files seed is everyone's


def test_users_me_answers_for_the_caller(tmp_path: Path) -> None:
    bob = Users.load(users_file(tmp_path)).of_key("bob-key")
    base = {"profile": {"id": 1, "username": "emulator"},
            "company": {"id": 1, "name": "x", "login_method": "password"},
            "permissions": {"is_admin": True, "can_manage_documents": True}}
    body = me_body(bob, base)
    assert body["profile"] == {"id": 102, "username": "bob", "full_name": "Bob", "email": "bob@acme.test"}
    assert body["company"] == {"id": 10, "name": "Acme", "login_method": "password"}
    assert body["permissions"]["is_admin"] is False and body["permissions"]["can_manage_documents"] is True
