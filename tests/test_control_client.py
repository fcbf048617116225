"""The test handle's control connection: kept alive, opened again when the server closed it, and the
openai clients' shared pool, which a test that closes its client does not break for the next."""

from __future__ import annotations

import socket
import threading

from emulator.testing.control import ControlClient
from emulator.testing.handle import ParadigmEmulator

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 9\r\n\r\n{\"ok\": %d}"


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return data
        data += chunk
    return data


def test_a_connection_the_server_closed_is_opened_again_once():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    seen: list[bytes] = []

    def serve() -> None:
        for number in range(2):  # each connection answers one request, then the server closes it
            conn, _ = listener.accept()
            with conn:
                seen.append(_read_request(conn))
                conn.sendall(ANSWER % number)
        listener.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    client = ControlClient(f"http://127.0.0.1:{port}", {"X-Emulator-Admin-Token": "t"}, 10.0)
    first = client.request("POST", "/_emulator/reset")
    second = client.request("GET", "/_emulator/journal", params={"after": 3})
    client.close()
    thread.join(10)
    assert (first.status_code, first.json(), second.json()) == (200, {"ok": 0}, {"ok": 1})
    assert seen[0].startswith(b"POST /_emulator/reset HTTP/1.1\r\n")
    assert b"X-Emulator-Admin-Token: t" in seen[0]
    assert seen[1].startswith(b"GET /_emulator/journal?after=3 HTTP/1.1\r\n")


def test_a_test_that_closes_its_client_leaves_the_next_one_working(server):
    first = ParadigmEmulator(server)
    with first.client() as client:
        assert client.models.list().data
    second = ParadigmEmulator(server)
    second.reset()
    reply = second.client().chat.completions.create(
        model="alfred-4.2", messages=[{"role": "user", "content": "still there?"}])
    assert reply.choices[0].message.content
    assert second.call_count == 1
