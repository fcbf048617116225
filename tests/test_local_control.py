"""The handle's control calls to an in-process server: the app on its own loop, with the answers the
socket gives. Each call is made both ways, through ``LocalControlClient`` and through the HTTP
``ControlClient``, on the same server, and the two answers must be the same status and body."""

from __future__ import annotations

import json

import pytest

from emulator.testing.control import ControlClient
from emulator.testing.handle import ControlError, ParadigmEmulator, RemoteServer
from emulator.testing.local_control import LocalControlClient

FIXTURE = {"name": "on_chat() #1 a/b?c", "match": {"last_user_message": {"contains": "weather"}},
           "response": {"content": "Sunny"}}


@pytest.fixture
def both():
    """(local, remote) clients of a server with these headers; the remote ones closed at the end."""
    made = []

    def make(server, headers=None):
        remote = ControlClient(server.base_url, headers or {}, 10.0)
        made.append(remote)
        return LocalControlClient(server, headers or {}, 10.0), remote

    yield make
    for remote in made:
        remote.close()


def _same(local, remote, method, path, **options):
    """Make the call through both clients, resetting in between so that both see the same state."""
    answers = []
    for client in (local, remote):
        ParadigmEmulator(server_of(local)).reset()
        answers.append(client.request(method, path, **options))
    got, expected = answers
    assert (got.status_code, got.content) == (expected.status_code, expected.content), path
    return got


def server_of(client: LocalControlClient):
    return client._server


def test_every_control_route_answers_the_same_in_process_as_over_http(make_server, both):
    server = make_server(seed=3)
    local, remote = both(server)
    _same(local, remote, "POST", "/_emulator/reset")
    added = _same(local, remote, "POST", "/_emulator/fixtures", json=[FIXTURE])
    assert added.status_code == 201 and added.json() == {"added": [FIXTURE["name"]]}
    refused = _same(local, remote, "POST", "/_emulator/fixtures", json={"match": {"colour": "red"}})
    assert refused.status_code == 400 and "colour" in refused.text
    _same(local, remote, "GET", "/_emulator/fixtures")
    missing = _same(local, remote, "DELETE", "/_emulator/fixtures/" + "no%20such%23one")
    assert missing.status_code == 404 and "no such#one" in missing.text
    _same(local, remote, "PUT", "/_emulator/limits", json={"rpm": 5, "tpm": None})
    _same(local, remote, "GET", "/_emulator/nothing-here")


def test_a_fixture_name_with_spaces_and_marks_is_found_by_its_escaped_path(make_server):
    server = make_server()
    handle = ParadigmEmulator(server)
    rule = handle.on_chat(contains="weather", name="a rule #1 / b?c").reply("Sunny")
    assert [f["name"] for f in handle.fixtures] == ["a rule #1 / b?c"]
    handle.remove(rule)
    assert handle.fixtures == [] and handle.rules == ()


def test_the_streamed_journal_reads_whole_and_from_a_sequence_number(make_server, both):
    server = make_server()
    handle = ParadigmEmulator(server)
    client = handle.client()
    for text in ("one", "two", "three"):
        client.chat.completions.create(model="alfred-4.2", messages=[{"role": "user", "content": text}])
    local, remote = both(server)
    for params in ({"after": 0}, {"after": 2}, {"limit": 1}):
        got = local.request("GET", "/_emulator/journal", params=params)
        expected = remote.request("GET", "/_emulator/journal", params=params)
        assert (got.status_code, got.json()) == (expected.status_code, expected.json())
    assert [r.last_user_message for r in handle.requests] == ["one", "two", "three"]
    assert [e["seq"] for e in local.request("GET", "/_emulator/journal", params={"after": 2}).json()[
        "requests"]] == [3]


def test_the_admin_token_and_test_spaces_are_checked_in_process_too(make_server, both):
    server = make_server(admin_token="secret")
    for headers in ({}, {"X-Emulator-Admin-Token": "wrong"}, {"X-Emulator-Admin-Token": "secret"},
                    {"X-Emulator-Api-Key": "key-of-a-space"}):
        local, remote = both(server, headers)
        got = local.request("GET", "/_emulator/fixtures")
        expected = remote.request("GET", "/_emulator/fixtures")
        assert (got.status_code, got.content) == (expected.status_code, expected.content), headers
    assert ParadigmEmulator(server).fixtures == []  # the handle sends the server's own token
    with pytest.raises(ControlError, match="401"):
        ParadigmEmulator(RemoteServer(server.base_url, admin_token="")).reset()
    refused = LocalControlClient(server, {}, 10.0).request("POST", "/_emulator/reset")
    assert refused.status_code == 401 and json.loads(refused.content)["detail"]


def test_a_handle_on_a_stopped_server_says_it_did_not_answer(make_server):
    server = make_server()
    handle = ParadigmEmulator(server)
    handle.reset()
    server.stop()
    with pytest.raises(ControlError, match="did not answer POST /_emulator/reset"):
        handle.reset()


def test_a_remote_handle_on_the_same_server_still_goes_through_http(make_server):
    server = make_server()
    remote = ParadigmEmulator(RemoteServer(server.base_url))
    assert isinstance(remote._control, ControlClient)
    assert isinstance(ParadigmEmulator(server)._control, LocalControlClient)
    remote.on_chat(contains="weather").reply("Sunny")
    assert [f["name"] for f in ParadigmEmulator(server).fixtures] == [remote.rules[0].name]
