"""Host, Origin and media-type checks: a web page in the user's browser cannot drive the emulator."""

from __future__ import annotations

import select
import subprocess
import sys

import httpx
from conftest import KEY, ROOT, TIMEOUT

from emulator.config import Settings
from emulator.guard import exposure_warning

FIXTURE = {"name": "from-a-page", "match": {"operation": "chat"}, "response": {"content": "pwned"}}


def test_a_cross_origin_text_plain_post_to_the_control_api_is_refused(server, emulator):
    # A "simple" request: a page may send it anywhere without a preflight.
    response = httpx.post(
        server.base_url + "/_emulator/fixtures",
        content=b'{"name": "x", "response": {}}',
        headers={"Content-Type": "text/plain", "Origin": "http://evil.example"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 403
    assert "--allow-origin" in response.json()["detail"]
    assert httpx.get(server.base_url + "/_emulator/fixtures", timeout=TIMEOUT).json()["fixtures"] == []


def test_a_text_plain_or_form_body_to_the_control_api_is_a_415(server, emulator):
    for content_type in (
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ):
        response = httpx.post(
            server.base_url + "/_emulator/fixtures",
            content=b'{"name": "x"}',
            headers={"Content-Type": content_type},
            timeout=TIMEOUT,
        )
        assert response.status_code == 415, content_type
        assert "application/json or application/yaml" in response.json()["detail"]
    assert httpx.post(server.base_url + "/_emulator/reset", content=b"x", timeout=TIMEOUT).status_code == 415


def test_json_and_yaml_bodies_and_bodiless_posts_still_drive_the_control_api(server, emulator):
    assert (
        httpx.post(server.base_url + "/_emulator/fixtures", json=FIXTURE, timeout=TIMEOUT).status_code == 201
    )
    yaml_text = "name: in-yaml\nresponse: {content: hi}\n"
    added = httpx.post(
        server.base_url + "/_emulator/fixtures",
        content=yaml_text,
        headers={"Content-Type": "application/yaml"},
        timeout=TIMEOUT,
    )
    assert added.status_code == 201
    assert httpx.post(server.base_url + "/_emulator/reset", timeout=TIMEOUT).status_code == 200


def test_the_emulators_own_origin_and_an_allowed_one_may_use_the_control_api(make_server):
    running = make_server(allow_origin=("http://app.example:3000",))
    own = f"http://127.0.0.1:{running.port}"
    for origin in (own, "http://app.example:3000"):
        response = httpx.post(
            running.base_url + "/_emulator/fixtures",
            json=FIXTURE | {"name": origin},
            headers={"Origin": origin},
            timeout=TIMEOUT,
        )
        assert response.status_code == 201, origin
    other_port = httpx.get(
        running.base_url + "/_emulator/journal", headers={"Origin": "http://127.0.0.1:1"}, timeout=TIMEOUT
    )
    assert other_port.status_code == 403


def test_a_foreign_host_is_refused_on_every_route(server):
    # DNS rebinding: a page on attacker.example, its name rebound to 127.0.0.1, sends its own Host.
    for path in ("/_emulator/journal", "/_emulator/health", "/api/v2/models", "/nowhere"):
        response = httpx.get(
            server.base_url + path,
            headers={"Host": "attacker.example", "Authorization": f"Bearer {KEY}"},
            timeout=TIMEOUT,
        )
        assert response.status_code == 400, path
        assert "--allow-host attacker.example" in response.json()["detail"]


def test_loopback_names_and_addresses_are_served_with_or_without_a_port(server, http):
    port = server.port
    for host in (
        "localhost",
        f"localhost:{port}",
        "127.0.0.1",
        f"127.0.0.1:{port}",
        "[::1]",
        f"[::1]:{port}",
        "LOCALHOST",
        "10.1.2.3:8000",
    ):
        assert http.get("/api/v2/models", headers={"Host": host}).status_code == 200, host


def test_allow_host_adds_a_name(make_server):
    running = make_server(allow_host=("paradigm",))
    response = httpx.get(
        running.base_url + "/api/v2/models",
        timeout=TIMEOUT,
        headers={"Host": "paradigm:8000", "Authorization": f"Bearer {KEY}"},
    )
    assert response.status_code == 200
    assert (
        httpx.get(running.base_url + "/api/v2/models", headers={"Host": "other"}, timeout=TIMEOUT).status_code
        == 400
    )


def test_listening_beyond_loopback_without_an_admin_token_warns_of_the_risk():
    warned = exposure_warning(Settings(host="0.0.0.0"))
    assert "0.0.0.0 without --admin-token" in warned and "script every answer" in warned
    assert exposure_warning(Settings(host="0.0.0.0", admin_token="t")) is None
    assert exposure_warning(Settings()) is None and exposure_warning(Settings(host="::1")) is None


def test_serve_prints_the_warning_when_it_listens_on_every_interface():
    with subprocess.Popen(
        [sys.executable, "-m", "emulator", "--host", "0.0.0.0", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            ready, _, _ = select.select([process.stderr], [], [], 20)  # printed before uvicorn starts
            line = process.stderr.readline() if ready else ""
        finally:
            process.terminate()
            process.wait(timeout=10)
    assert "WARNING: listening on 0.0.0.0 without --admin-token" in line
