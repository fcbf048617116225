"""--data-dir (memory backend): every acknowledged change is on disk before its response, so a
`kill -9` at any moment loses nothing acknowledged and never hands out an id twice; shutdown
waits at most --shutdown-timeout for open streams."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from emulator.config import Settings
from emulator.server import EmulatorServer
from emulator.state.disk_log import LOG_NAME
from tests.cli_process import start_cli
from tests.conftest import KEY

ROOT = Path(__file__).resolve().parent.parent
AUTH = {"Authorization": f"Bearer {KEY}"}


def ask(base: str, content: str) -> str:
    response = httpx.post(base + "/api/v2/chat/completions", headers=AUTH, timeout=10,
                          json={"model": "alfred-4.2", "messages": [{"role": "user", "content": content}]})
    return response.json()["choices"][0]["message"]["content"]


def sigkill_amid(
    process: subprocess.Popen,
    send: Callable[[httpx.Client, int], None],
    done: Callable[[], int],
    want: int,
    seconds: float,
    headers: dict[str, str] | None = None,
) -> None:
    """Three clients call ``send(client, worker)`` over and over; once ``done()`` reaches ``want``
    the server is killed with SIGKILL, in the middle of their requests. The clients stop at the kill."""
    stop = threading.Event()

    def forever(worker: int) -> None:
        with httpx.Client(timeout=10, headers=headers) as client:
            while not stop.is_set():
                try:
                    send(client, worker)
                except httpx.TransportError:
                    return  # the kill

    clients = [threading.Thread(target=forever, args=(n,)) for n in range(3)]
    for client in clients:
        client.start()
    deadline = time.monotonic() + seconds
    while done() < want and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=10)
    stop.set()
    for client in clients:
        client.join(10)


def test_sigkill_in_the_middle_of_fixture_posts_loses_nothing_acknowledged(tmp_path):
    process, base = start_cli("--data-dir", str(tmp_path))
    try:
        httpx.post(base + "/_emulator/fixtures", timeout=10, json={
            "name": "thrice", "times": 3, "match": {"last_user_message": "count"},
            "response": {"content": "S"}})
        assert [ask(base, "count") for _ in range(2)] == ["S", "S"]
        acknowledged: list[str] = []

        def post(client: httpx.Client, worker: int) -> None:
            response = client.post(base + "/_emulator/fixtures",
                                   json={"match": {"last_user_message": "never"}, "response": {}})
            if response.status_code == 201:
                acknowledged.extend(response.json()["added"])

        sigkill_amid(process, post, lambda: len(acknowledged), want=60, seconds=20)
        assert len(acknowledged) >= 60
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    process, base = start_cli("--data-dir", str(tmp_path))
    try:
        names = {f["name"] for f in httpx.get(base + "/_emulator/fixtures", timeout=10).json()["fixtures"]}
        assert set(acknowledged) <= names and "thrice" in names
        assert [ask(base, "count") for _ in range(2)][0] == "S"  # one use of three was left ...
        assert ask(base, "count") != "S"  # ... and only one
        added = httpx.post(base + "/_emulator/fixtures", json={"response": {}}, timeout=10).json()["added"]
        numbers = [int(name.rsplit("-", 1)[1]) for name in names if name.startswith("fixture-")]
        assert int(added[0].rsplit("-", 1)[1]) > max(numbers)  # an id is never handed out twice
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=20)


def test_sigkill_in_the_middle_of_uploads_loses_no_acknowledged_file_and_reuses_no_id(tmp_path):
    process, base = start_cli("--data-dir", str(tmp_path))
    acknowledged: dict[int, bytes] = {}
    try:
        lock = threading.Lock()
        numbers = [0, 0, 0]

        def upload(client: httpx.Client, worker: int) -> None:
            numbers[worker] += 1
            number = numbers[worker]
            data = f"file {worker}-{number}: ".encode() + b"durable text. " * 50
            response = client.post(base + "/api/v2/files", files={"file": (f"f{worker}-{number}.txt", data)})
            if response.status_code in (200, 201):
                with lock:
                    acknowledged[response.json()["id"]] = data

        sigkill_amid(process, upload, lambda: len(acknowledged), want=30, seconds=30, headers=AUTH)
        assert len(acknowledged) >= 30
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    process, base = start_cli("--data-dir", str(tmp_path))
    try:
        with httpx.Client(timeout=10, headers=AUTH) as client:
            for file_id in acknowledged:
                assert client.get(f"{base}/api/v2/files/{file_id}").status_code == 200, file_id
            fresh = client.post(base + "/api/v2/files",
                                files={"file": ("after.txt", b"after the kill")}).json()
        assert fresh["id"] > max(acknowledged)  # a stale id never points at a different file
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=20)


def test_a_torn_last_line_is_skipped_and_the_rest_is_kept(tmp_path):
    with EmulatorServer(Settings(data_dir=tmp_path)) as running:
        running.emulator.scripts.add({"name": "kept", "response": {"content": "kept"}})
    with open(tmp_path / LOG_NAME, "ab") as log:
        log.write(b'["put","fixtures","runt')  # a kill in the middle of a write
    with EmulatorServer(Settings(data_dir=tmp_path)) as running:
        assert [f["name"] for f in running.emulator.scripts.all()] == ["kept"]
        assert ask(running.base_url, "anything") == "kept"


def test_reset_is_durable_too(tmp_path):
    with EmulatorServer(Settings(data_dir=tmp_path)) as running:
        running.emulator.scripts.add({"name": "gone", "response": {"content": "x"}})
        running.emulator.reset()
    with EmulatorServer(Settings(data_dir=tmp_path)) as running:
        assert running.emulator.scripts.all() == []


@pytest.mark.timing
def test_shutdown_waits_at_most_the_shutdown_timeout_for_an_open_stream(tmp_path) -> None:
    process, base = start_cli("--shutdown-timeout", "1", "--itl-ms", "500")
    try:
        opened = threading.Event()

        def slow_stream() -> None:
            body = {"model": "alfred-4.2", "messages": [{"role": "user", "content": "long"}],
                    "max_tokens": 200, "stream": True}
            try:
                with httpx.stream("POST", base + "/api/v2/chat/completions", json=body, headers=AUTH,
                                  timeout=60) as response:
                    for _ in response.iter_bytes():
                        opened.set()
            except httpx.HTTPError:
                pass  # closed by the shutdown: what is tested

        reader = threading.Thread(target=slow_stream)
        reader.start()
        assert opened.wait(10)
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=20)
        took = time.monotonic() - started
        reader.join(10)
        assert took < 5, f"shutdown took {took:.1f} s with --shutdown-timeout 1 (a 100 s stream was open)"
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
