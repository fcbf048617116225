"""The inspector's cost to the API: non-streamed chat with no page open, then with one page's journal
stream connected (the page reads it; a second stream reads the same), on the real CLI server.

    python -m bench.bench_inspector [--requests 3000] [--rounds 3]

Sequential requests from one keep-alive client (the machine is shared: the figure is a median of
rounds, alternating the two cases so that a load change hits both).
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

import httpx

from bench.launch import start_emulator

BODY = {"model": "alfred-4.2", "max_tokens": 16, "messages": [{"role": "user", "content": "Hello there"}]}


def chat_rate(url: str, count: int) -> float:
    with httpx.Client(base_url=url, headers={"Authorization": "Bearer k"}, timeout=30) as client:
        for _ in range(50):
            client.post("/api/v2/chat/completions", json=BODY)
        started = time.perf_counter()
        for _ in range(count):
            client.post("/api/v2/chat/completions", json=BODY).raise_for_status()
        return count / (time.perf_counter() - started)


def open_page_stream(url: str, stop: threading.Event) -> threading.Thread:
    """What an open inspector page does: hold the journal stream and read every event."""

    def read() -> None:
        with httpx.Client(base_url=url, timeout=None) as client, \
                client.stream("GET", "/_emulator/journal/events?after=0") as stream:
            for _ in stream.iter_bytes():
                if stop.is_set():
                    return

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    process, url = start_emulator()
    try:
        closed, opened = [], []
        for _ in range(args.rounds):
            closed.append(chat_rate(url, args.requests))
            stop = threading.Event()
            open_page_stream(url, stop)
            opened.append(chat_rate(url, args.requests))
            stop.set()
            httpx.post(url + "/_emulator/reset", timeout=10)
        no_page, one_page = statistics.median(closed), statistics.median(opened)
        print(f"non-streamed chat, one client, sequential: no page open {no_page:.0f} req/s, "
              f"one page open {one_page:.0f} req/s ({(one_page / no_page - 1) * 100:+.1f} %)")
    finally:
        process.terminate()
        process.wait(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
