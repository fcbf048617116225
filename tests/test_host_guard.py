"""The Host guard sees every Host header, and only host[:port] shapes pass (raw sockets: a client
library would not send these)."""

from __future__ import annotations

import json
import socket

import pytest


def raw_request(port: int, head: str) -> tuple[int, dict]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode("latin-1") + b"\r\n")
        data = b""
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    status = int(data.split(b" ", 2)[1])
    body = data.split(b"\r\n\r\n", 1)[1]
    return status, json.loads(body) if body else {}


def _length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def get(port: int, *hosts: str) -> tuple[int, dict]:
    lines = "".join(f"Host: {host}\r\n" for host in hosts)
    return raw_request(port, f"GET /_emulator/health HTTP/1.1\r\n{lines}Connection: close\r\n")


def test_two_host_headers_are_refused_even_when_the_first_is_fine(server):
    status, body = get(server.port, f"127.0.0.1:{server.port}", "evil.example")
    assert status == 400 and "2 Host headers" in body["detail"]
    status, _ = get(server.port, f"127.0.0.1:{server.port}", f"127.0.0.1:{server.port}")
    assert status == 400


@pytest.mark.parametrize("host", ["localhost:1@evil", "user@localhost", "localhost/path", "localhost:80:90",
                                  "local host", "localhost:port", "[::1]x"])
def test_a_host_that_is_not_host_port_is_refused(server, host):
    status, body = get(server.port, host)
    assert status == 400 and "host:port" in body["detail"]


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1:{port}", "[::1]:{port}", "LocalHost.:80"])
def test_the_usual_hosts_still_pass(server, host):
    status, body = get(server.port, host.format(port=server.port))
    assert status == 200, body
