"""Slow and lying clients are cut after --read-timeout; past --max-connections, 503 at once, never a hang.

Raw sockets: only they can send a request a byte at a time, or promise a body they never send.
A production-sized attack (1,100 connections, a byte every 5 s, a 30 s timeout) is scaled down so
that the test runs in seconds: 40 connections against a cap of 30 and a timeout of 1 s.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx
import pytest
from conftest import KEY

READ_TIMEOUT = 1.0
SLACK = 2.0  # the most a cut may come after the deadline on a loaded machine


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _read_to_close(sock: socket.socket, deadline_s: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and when it closed it."""
    received = b""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        sock.settimeout(max(end - time.monotonic(), 0.01))
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            return received, time.monotonic()
        if not chunk:
            return received, time.monotonic()
        received += chunk
    raise AssertionError(f"the server kept the connection open for {deadline_s} s (got {received!r})")


def test_a_body_shorter_than_its_content_length_is_cut_after_the_read_timeout(make_server):
    running = make_server(read_timeout=READ_TIMEOUT)
    sock = _connect(running.port)
    started = time.monotonic()
    sock.sendall(
        b"POST /api/v2/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
        + KEY.encode()
        + b"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
        + b'{"model": '
    )
    received, closed = _read_to_close(sock, READ_TIMEOUT + SLACK + 3)
    sock.close()
    assert received.startswith(b"HTTP/1.1 408 ")
    assert b"--read-timeout" in received
    assert READ_TIMEOUT - 0.1 <= closed - started <= READ_TIMEOUT + SLACK


def test_headers_sent_a_byte_at_a_time_are_cut_after_the_read_timeout(make_server):
    running = make_server(read_timeout=READ_TIMEOUT)
    sock = _connect(running.port)
    started = time.monotonic()
    request = b"GET /api/v2/models HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"a" * 200
    closed_after = None
    for byte in request:  # a byte every 50 ms: each one would reset an idle timeout
        try:
            sock.sendall(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            closed_after = time.monotonic() - started
            break
        sock.settimeout(0.05)
        try:
            if sock.recv(65536, socket.MSG_PEEK) is not None:
                closed_after = time.monotonic() - started
                break
        except TimeoutError:
            continue
        except ConnectionResetError:
            closed_after = time.monotonic() - started
            break
    sock.close()
    assert closed_after is not None, "the server read 230 bytes over 11 s without cutting the client"
    assert READ_TIMEOUT - 0.1 <= closed_after <= READ_TIMEOUT + SLACK


@pytest.mark.timing
def test_slow_connections_past_the_cap_leave_other_clients_answered_and_then_served(make_server) -> None:
    cap = 30
    running = make_server(read_timeout=READ_TIMEOUT, max_connections=cap)
    slow = []
    for _ in range(cap + 10):
        sock = _connect(running.port)
        sock.sendall(
            b"GET /api/v2/models HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        )  # and never the end of the headers
        slow.append(sock)
    opened = time.monotonic()
    # While the slow ones hold every slot, a normal client is told so at once: 503, not a hang.
    with httpx.Client(
        base_url=running.base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=httpx.Timeout(3.0)
    ) as client:
        started = time.monotonic()
        busy = client.get("/api/v2/models", headers={"Connection": "close"})
        assert busy.status_code == 503
        assert time.monotonic() - started < 2.0
        # After the read timeout they are gone, and every normal client is served.
        served = None
        while time.monotonic() < opened + READ_TIMEOUT + SLACK + 2:
            response = client.get("/api/v2/models", headers={"Connection": "close"})
            if response.status_code == 200:
                served = time.monotonic() - opened
                break
            assert response.status_code == 503
        assert served is not None and served <= READ_TIMEOUT + SLACK
        assert all(client.get("/api/v2/models").status_code == 200 for _ in range(20))
    for sock in slow:
        received, _ = _read_to_close(sock, SLACK + 2)
        assert received == b"" or received.startswith((b"HTTP/1.1 408 ", b"HTTP/1.1 503 "))
        sock.close()


def test_a_slow_answer_is_not_cut_by_the_read_timeout(make_server):
    # The deadline is for receiving the request; a stream may take longer than it.
    running = make_server(read_timeout=READ_TIMEOUT, itl_ms=150)
    with httpx.Client(base_url=running.v2, headers={"Authorization": f"Bearer {KEY}"}, timeout=10) as client:
        started = time.monotonic()
        response = client.post(
            "/chat/completions",
            json={
                "model": "alfred-4",
                "messages": [{"role": "user", "content": "hi"}],
                "max_tokens": 12,
                "stream": True,
            },
        )
        assert response.status_code == 200 and response.text.rstrip().endswith("data: [DONE]")
        assert time.monotonic() - started > READ_TIMEOUT
        # The kept-alive connection serves another request after the long one.
        assert client.get("/models").status_code == 200


def test_a_slow_second_request_on_a_kept_alive_connection_is_cut_too(make_server):
    running = make_server(read_timeout=READ_TIMEOUT)
    sock = _connect(running.port)
    sock.sendall(
        b"GET /api/v2/models HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
        + KEY.encode()
        + b"\r\n\r\n"
    )
    first = b""
    while b"\r\n\r\n" not in first or not first.rstrip().endswith(b"}"):
        first += sock.recv(65536)
    assert first.startswith(b"HTTP/1.1 200 ")
    started = time.monotonic()
    sock.sendall(b"GET /api/v2/models HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and no more
    received, closed = _read_to_close(sock, READ_TIMEOUT + SLACK + 3)
    sock.close()
    assert received == b"" or received.startswith(b"HTTP/1.1 408 ")
    assert closed - started <= READ_TIMEOUT + SLACK


def test_the_connection_cap_is_lowered_below_the_file_descriptor_limit():
    # In a child process: lowering this process's own limit would starve the test session.
    script = (
        "import resource; resource.setrlimit(resource.RLIMIT_NOFILE, (256, resource.getrlimit("
        "resource.RLIMIT_NOFILE)[1])); from emulator.connections import connection_cap; "
        "print(connection_cap(1000), connection_cap(100))"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30)
    assert out.stdout.split() == ["192", "100"]
    assert "does not fit the file descriptor limit (ulimit -n 256)" in out.stderr
