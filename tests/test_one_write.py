"""A response's head goes out with the body that follows it, in one write; alone, a loop turn later,
when nothing follows at once; and never after what was written behind it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from emulator.one_write import OneWriteTransport

pytestmark = pytest.mark.anyio

HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"


class Recorded:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str) -> Any:
        return ("127.0.0.1", 1) if name == "peername" else None


def held(transport: Recorded) -> OneWriteTransport:
    return OneWriteTransport(transport, asyncio.get_running_loop())  # type: ignore[arg-type]


async def test_a_head_and_its_body_are_one_write():
    socket = Recorded()
    one = held(socket)
    one.write(HEAD)
    one.write(b"{}")
    assert socket.writes == [HEAD + b"{}"]
    await asyncio.sleep(0)
    assert socket.writes == [HEAD + b"{}"]


async def test_after_the_head_a_response_writes_to_the_socket_itself_until_it_is_complete():
    socket = Recorded()
    one = held(socket)
    one.write(HEAD)
    one.write(b"5\r\nfirst\r\n")
    assert one.write == socket.write  # a stream's chunks: no step of the wrapper between
    one.write(b"6\r\nsecond\r\n")
    one.next_response()
    one.write(HEAD)
    assert socket.writes == [HEAD + b"5\r\nfirst\r\n", b"6\r\nsecond\r\n"]  # the next head is held
    one.write(b"{}")
    assert socket.writes[-1] == HEAD + b"{}"


async def test_a_head_alone_goes_out_on_the_next_loop_turn():
    socket = Recorded()
    one = held(socket)
    one.write(HEAD)
    assert socket.writes == []
    await asyncio.sleep(0)
    assert socket.writes == [HEAD]


async def test_closing_writes_the_held_head_first():
    socket = Recorded()
    one = held(socket)
    one.write(HEAD)
    one.close()
    assert socket.writes == [HEAD] and socket.closed


async def test_a_body_is_written_as_it_comes_and_the_rest_is_the_transports():
    socket = Recorded()
    one = held(socket)
    one.write(b"5\r\nhello\r\n")
    assert socket.writes == [b"5\r\nhello\r\n"]
    assert one.get_extra_info("peername") == ("127.0.0.1", 1)


async def test_a_head_is_not_written_to_a_connection_already_closed():
    socket = Recorded()
    one = held(socket)
    one.write(HEAD)
    socket.closed = True  # the client went away before the loop turned
    await asyncio.sleep(0)
    assert socket.writes == []


async def test_answers_and_streams_arrive_whole_over_http(server):
    import httpx

    headers = {"Authorization": "Bearer k"}
    chat = {"model": "alfred-4.2", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 8}
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=10) as http:
        models = await http.get("/api/v2/models")
        plain = await http.post("/api/v2/chat/completions", json=chat)
        streamed = await http.post("/api/v2/chat/completions", json={**chat, "stream": True})
    assert models.json()["data"] and plain.json()["choices"]
    assert streamed.text.endswith("data: [DONE]\n\n")
