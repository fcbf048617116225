"""The Redis connection pool holds after faults: a worker SIGKILLed under load and Redis restarted,
every request made once Redis answers again is answered 200 (no "Too many connections")."""

from __future__ import annotations

import os
import signal
import threading
import time

import httpx

from tests.cli_process import start_cli
from tests.conftest import KEY
from tests.redis_process import redis_process  # noqa: F401 - the fixture

AUTH = {"Authorization": f"Bearer {KEY}"}
AFTER = 200  # requests sent once Redis is back (about 2 s of the load on an idle machine)


def test_sigkill_a_worker_under_load_and_restart_redis_then_every_answer_is_200(redis_process):  # noqa: F811
    process, base = start_cli("--workers", "2", "--redis-url", redis_process.url)
    statuses: list[tuple[float, str, int]] = []  # (when the request was sent, what, status)
    lock = threading.Lock()
    stop = threading.Event()

    def load(worker: int) -> None:
        number = 0
        with httpx.Client(timeout=15, headers=AUTH) as client:
            while not stop.is_set():
                number += 1
                sent = time.monotonic()
                try:
                    if number % 3 == 0:
                        response = client.post(base + "/api/v2/files", files={
                            "file": (f"w{worker}-{number}.txt", b"some text to embed. " * 40)})
                        what = "upload"
                    elif number % 3 == 1:
                        response = client.get(base + "/api/v2/files")  # settles (takes over) ingestions
                        what = "list"
                    else:
                        response = client.post(base + "/api/v2/chat/completions", json={
                            "model": "alfred-4.2", "messages": [{"role": "user", "content": "hi"}],
                            "max_tokens": 3})
                        what = "chat"
                    status = response.status_code
                except httpx.TransportError:
                    what, status = "transport", 0  # a connection the killed worker held
                with lock:
                    statuses.append((sent, what, status))

    threads = [threading.Thread(target=load, args=(n,)) for n in range(8)]
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while sum(1 for _, what, s in list(statuses) if what == "upload" and s in (200, 201)) < 40:
            assert time.monotonic() < deadline, "the load never got going"
            time.sleep(0.05)
        health = httpx.get(base + "/_emulator/health", timeout=10, headers={"Connection": "close"})
        victim = health.json()["pid"]
        os.kill(victim, signal.SIGKILL)
        time.sleep(0.5)
        redis_process.restart()  # no persistence: the data is gone, every client connection broken
        back = time.monotonic()  # Redis answers again from here on (restart() waits for its PONG)
        deadline = time.monotonic() + 120
        while sum(1 for sent, _, _ in list(statuses) if sent >= back) < AFTER:
            assert time.monotonic() < deadline, "the load stalled after the restart"
            time.sleep(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    after = [(what, status) for sent, what, status in statuses if sent >= back]
    assert len(after) >= AFTER, f"too little load after the restart: {len(after)}"
    bad = [(what, status) for what, status in after if status not in (200, 201)]
    assert bad == [], f"{len(bad)} of {len(after)} answers were not 200: {bad[:10]}"
