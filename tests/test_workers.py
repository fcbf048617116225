"""`serve --workers N` on a shared Redis: requests land on several worker processes and see one
state; the faults of a shared state (Redis down at start, Redis gone while serving, a worker
killed) are each a clear answer, never a 500 or a lost record."""

from __future__ import annotations

import concurrent.futures
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from emulator.cli import main
from emulator.config import Settings
from emulator.server import EmulatorServer
from tests.cli_process import start_cli
from tests.conftest import KEY, REDIS_URL

ROOT = Path(__file__).resolve().parent.parent
START_S = 30.0
AUTH = {"Authorization": f"Bearer {KEY}"}
needs_redis = pytest.mark.skipif(not REDIS_URL and not os.environ.get("CI"),
                                 reason="needs PARADIGM_TEST_REDIS_URL")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chat(base: str, content: str = "Hello", client: httpx.Client | None = None) -> httpx.Response:
    body = {"model": "alfred-4.2", "messages": [{"role": "user", "content": content}], "max_tokens": 4}
    if client is not None:
        return client.post(base + "/api/v2/chat/completions", json=body, headers=AUTH)
    return httpx.post(base + "/api/v2/chat/completions", json=body, headers=AUTH, timeout=10)


def pid_of(base: str) -> int:
    """The worker that answers a fresh connection."""
    return httpx.get(base + "/_emulator/health", timeout=10, headers={"Connection": "close"}).json()["pid"]


def pids_seen(base: str, want: int = 2, tries: int = 400) -> set[int]:
    seen: set[int] = set()
    for _ in range(tries):
        seen.add(pid_of(base))
        if len(seen) >= want:
            break
    return seen


class Workers:
    """`paradigm-emulator serve --workers 2 --redis-url ... [flags]` as real processes on free ports,
    each with a Redis prefix of its own; stopped (and their prefix reset) by ``stop_all``."""

    def __init__(self) -> None:
        if not REDIS_URL:
            pytest.fail("CI must export PARADIGM_TEST_REDIS_URL (see .ci/run)")
        self.started: list[tuple[subprocess.Popen, str]] = []

    def start(self, *flags: str) -> str:
        """-> the root URL, once a worker answers."""
        prefix = f"paradigm-test-{uuid.uuid4().hex[:12]}:"
        process, base = start_cli(
            "--workers", "2", "--redis-url", REDIS_URL, "--redis-prefix", prefix, *flags
        )
        self.started.append((process, base))
        deadline = time.monotonic() + START_S
        while True:  # the workers import the app after the socket is bound: wait until one answers
            try:
                pid_of(base)
                return base
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    pytest.fail("no worker answered")
                time.sleep(0.05)

    def stop_all(self) -> None:
        for process, base in self.started:
            try:
                httpx.post(base + "/_emulator/reset", timeout=10)
            except httpx.HTTPError:
                pass
            process.send_signal(signal.SIGINT)
            try:
                _, err = process.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                _, err = process.communicate()
            assert "Traceback" not in err, err


@pytest.fixture
def start_workers():
    """Starts `serve --workers 2` with the flags given, for this test alone (a test that kills a
    worker or needs flags of its own); -> its root URL."""
    started = Workers()
    yield started.start
    started.stop_all()


@pytest.fixture(scope="module")
def module_workers():
    """One `serve --workers 2` with the default flags for the tests of a module: starting two worker
    processes is most of such a test's time, and a reset between tests is all they need apart."""
    started = Workers()
    yield started.start()
    started.stop_all()


@pytest.fixture
def workers(module_workers):
    """The module's `serve --workers 2`, reset through the control API before the test; -> its root URL."""
    httpx.post(module_workers + "/_emulator/reset", timeout=10).raise_for_status()
    return module_workers


# -- refusals at start-up ----------------------------------------------------------------------------


def test_more_workers_without_redis_are_refused_with_the_way_out(capsys):
    assert main(["serve", "--workers", "2"]) == 2
    err = capsys.readouterr().err
    assert "--workers 2 needs --redis-url" in err and "redis://" in err


def test_a_redis_that_is_down_at_start_up_is_said_and_exits_non_zero(capsys):
    url = f"redis://127.0.0.1:{free_port()}/0"
    assert main(["serve", "--redis-url", url]) == 2
    assert f"cannot reach Redis at {url}" in capsys.readouterr().err


# -- two workers, one state ----------------------------------------------------------------------------


@needs_redis
def test_requests_land_on_two_workers_that_share_fixtures_counters_and_journal(workers):
    pids = pids_seen(workers)
    assert len(pids) == 2, "requests never reached a second worker"
    fixture = {"name": "five", "times": 5, "match": {"last_user_message": "count"},
               "response": {"content": "S"}}
    assert httpx.post(workers + "/_emulator/fixtures", json=fixture, timeout=10).status_code == 201
    scripted = 0
    for _ in range(20):  # each on a fresh connection, so both workers answer some
        with httpx.Client(timeout=10, headers={"Connection": "close"}) as client:
            response = chat(workers, "count", client)
        scripted += response.json()["choices"][0]["message"]["content"] == "S"
    assert scripted == 5  # times: 5 is five uses in all, not five per worker
    journal = httpx.get(workers + "/_emulator/journal", params={"path": "/api/v2/chat"}, timeout=10).json()
    assert len(journal["requests"]) == 20
    assert len({e["seq"] for e in journal["requests"]}) == 20
    health = {h["pid"]: h for h in (httpx.get(workers + "/_emulator/health", timeout=10,
                                              headers={"Connection": "close"}).json() for _ in range(40))}
    assert all(h["state"] == "redis" and h["fixtures"] == 1 for h in health.values())


@needs_redis
def test_concurrent_fixture_posts_on_two_workers_lose_nothing_and_share_no_name(workers):
    def post(number: int) -> list[str]:
        with httpx.Client(timeout=10, headers={"Connection": "close"}) as client:
            response = client.post(workers + "/_emulator/fixtures",
                                   json={"match": {"last_user_message": f"n{number}"},
                                         "response": {"content": "x"}})
            return response.json()["added"]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        names = [name for added in pool.map(post, range(40)) for name in added]
    assert len(names) == 40 and len(set(names)) == 40
    listed = httpx.get(workers + "/_emulator/fixtures", timeout=10).json()["fixtures"]
    assert sorted(f["name"] for f in listed) == sorted(names)


@needs_redis
def test_concurrent_requests_on_two_workers_are_all_journaled_each_with_its_own_seq(workers):
    def ask(number: int) -> int:
        with httpx.Client(timeout=10, headers={"Connection": "close"}) as client:
            return chat(workers, f"concurrent {number}", client).status_code

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        assert list(pool.map(ask, range(60))) == [200] * 60
    entries = httpx.get(workers + "/_emulator/journal", timeout=10).json()["requests"]
    contents = sorted(e["body"]["messages"][0]["content"] for e in entries)
    assert contents == sorted(f"concurrent {n}" for n in range(60))
    assert len({e["seq"] for e in entries}) == 60


@needs_redis
def test_a_request_is_in_the_journal_as_soon_as_its_response_has_arrived_on_any_worker(workers):
    with httpx.Client(timeout=10) as api, httpx.Client(timeout=10) as control:
        missing = []
        for number in range(100):
            assert chat(workers, f"at once {number}", api).status_code == 200
            newest = control.get(workers + "/_emulator/journal", params={"limit": 1}).json()["requests"]
            if not newest or newest[0]["body"]["messages"][0]["content"] != f"at once {number}":
                missing.append(number)
    assert missing == []


@needs_redis
def test_fixture_files_load_on_every_worker_reload_on_each_and_share_their_counters(start_workers, tmp_path):
    path = tmp_path / "counted.yaml"
    path.write_text("- name: counted\n  times: 3\n  match: {last_user_message: files}\n"
                    "  response: {content: from the file}\n")
    base = start_workers("--fixtures-dir", str(tmp_path))
    assert len(pids_seen(base)) == 2
    answers = []
    for _ in range(12):
        with httpx.Client(timeout=10, headers={"Connection": "close"}) as client:
            answers.append(chat(base, "files", client).json()["choices"][0]["message"]["content"])
    assert answers.count("from the file") == 3  # times: 3 over both workers
    before = path.stat().st_mtime_ns
    path.write_text("- name: edited\n  match: {last_user_message: files}\n  response: {content: edited}\n")
    os.utime(path, ns=(before + 1_000_000_000, before + 1_000_000_000))
    seen: dict[int, list[str]] = {}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # every worker reloads on its own: poll until both show it
        with httpx.Client(timeout=10) as client:  # one connection: both answers from one worker
            health = client.get(base + "/_emulator/health").json()
            listed = client.get(base + "/_emulator/fixtures").json()["fixtures"]
        seen[health["pid"]] = [f["name"] for f in listed]
        if len(seen) == 2 and all(names == ["edited"] for names in seen.values()):
            break
        time.sleep(0.05)
    assert len(seen) == 2 and all(names == ["edited"] for names in seen.values()), seen


@needs_redis
def test_a_worker_killed_with_sigkill_leaves_the_others_serving_and_nothing_lost(start_workers):
    workers = start_workers()  # of its own: the worker it kills is gone for the rest of the module
    httpx.post(workers + "/_emulator/fixtures", json={"name": "kept", "response": {"content": "still here"}},
               timeout=10)
    victim = pid_of(workers)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 10
    answers = []
    while len(answers) < 10 and time.monotonic() < deadline:
        try:
            with httpx.Client(timeout=5, headers={"Connection": "close"}) as client:
                response = chat(workers, "anything", client)
            answers.append((response.status_code, response.json()["choices"][0]["message"]["content"]))
        except httpx.TransportError:  # the connection the killed worker had accepted
            continue
    assert answers == [(200, "still here")] * 10
    assert victim not in pids_seen(workers, want=2, tries=60)


@needs_redis
def test_keep_alive_requests_to_workers_are_not_delayed_by_nagle(workers):
    with httpx.Client(timeout=10) as client:
        chat(workers, "warm", client)
        took_ms = []
        for _ in range(20):
            started = time.perf_counter()
            assert chat(workers, "again", client).status_code == 200
            took_ms.append((time.perf_counter() - started) * 1000)
    # A delayed ACK (no TCP_NODELAY) costs ~40 ms on every keep-alive request, however idle the
    # machine: the fastest of twenty is under that unless each one is delayed (a busy machine slows
    # some requests, never all twenty past it).
    assert min(took_ms) < 40, sorted(took_ms)[:5]


# -- Redis going away while serving ---------------------------------------------------------------------


@pytest.fixture
def own_redis():
    """A redis-server of this test's own, which it may stop and start again on the same port."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    started: list[subprocess.Popen] = []

    def start() -> None:
        process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                    "--appendonly", "no"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started.append(process)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def stop() -> None:
        started[-1].kill()
        started[-1].wait(10)

    start()
    yield f"redis://127.0.0.1:{port}/0", start, stop
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def test_redis_gone_while_serving_is_a_503_naming_the_state_backend_then_serving_again(own_redis):
    url, start, stop = own_redis
    with EmulatorServer(Settings(redis_url=url)) as running:
        base = running.base_url
        assert chat(base).status_code == 200
        stop()
        down = chat(base)
        assert down.status_code == 503
        assert "state backend (Redis)" in down.json()["detail"] and set(down.json()) == {"detail"}
        control = httpx.post(base + "/_emulator/fixtures", json={"response": {"content": "x"}}, timeout=10)
        assert control.status_code == 503 and "state backend" in control.json()["detail"]
        journal = httpx.get(base + "/_emulator/journal", timeout=10)
        assert journal.status_code == 503
        start()
        deadline = time.monotonic() + 15
        while chat(base).status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert chat(base).status_code == 200
        assert httpx.post(base + "/_emulator/fixtures", json={"response": {"content": "back"}},
                          timeout=10).status_code == 201
        assert chat(base).json()["choices"][0]["message"]["content"] == "back"


@needs_redis
def test_the_plugin_runs_a_suite_against_two_workers(workers, tmp_path):
    (tmp_path / "test_suite.py").write_text('''
import pytest

@pytest.mark.parametrize("n", range(12))
def test_scripted(paradigm_emulator, paradigm_client, n):
    paradigm_emulator.on_chat(contains=f"q{n}").reply(f"a{n}").then_reply("again")
    ask = lambda: paradigm_client.chat.completions.create(
        model="alfred-4.2", messages=[{"role": "user", "content": f"q{n}"}]).choices[0].message.content
    assert (ask(), ask()) == (f"a{n}", "again")
    paradigm_emulator.assert_called("chat", times=2)
''')
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "emulator.plugin",
                             "-p", "no:cacheprovider", "--paradigm-url", workers,
                             str(tmp_path / "test_suite.py")],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "12 passed" in result.stdout
