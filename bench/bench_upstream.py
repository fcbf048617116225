"""What the upstream path costs: the proxy's overhead, and replay against a plain fixture.

    .venv/bin/python bench/bench_upstream.py [--requests 300]

Emulators run as real ``serve`` processes: an upstream, a proxy in front of it (``--upstream``),
and a replaying one (``--fixtures-dir`` of a recording the proxy made). One client, sequential
requests on a kept-alive connection, p50 of each:

* a non-streamed chat, to the upstream directly, through the proxy (the proxy's overhead), and through
  a proxy that records (each answer appended to the recording);
* a 256-token stream's time to first byte, directly and through the proxy;
* a recorded answer replayed, against the same answer as a plain ``content`` fixture.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from launch import start_emulator  # noqa: E402  (bench/ is the script's folder)

AUTH = {"Authorization": "Bearer bench"}
CHAT = {"model": "alfred-4.2", "messages": [{"role": "user", "content": "Hello!"}], "max_tokens": 16}
STREAM = {**CHAT, "max_tokens": 256, "stream": True}


def p50_ms(client: httpx.Client, url: str, body: dict, count: int) -> float:
    for _ in range(20):  # warm-up: connections, caches
        client.post(url, json=body, headers=AUTH).raise_for_status()
    times = []
    for _ in range(count):
        started = time.perf_counter()
        client.post(url, json=body, headers=AUTH).raise_for_status()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def ttfb_ms(client: httpx.Client, url: str, body: dict, count: int) -> float:
    times = []
    for number in range(count + 5):
        started = time.perf_counter()
        with client.stream("POST", url, json=body, headers=AUTH) as response:
            stream = response.iter_raw()
            next(stream)
            first = time.perf_counter() - started
            for _ in stream:
                pass
        if number >= 5:
            times.append(first)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    count = parser.parse_args().requests
    folder = Path(tempfile.mkdtemp(prefix="bench-upstream-"))
    recording, fixtures = folder / "recording", folder / "fixtures"
    fixtures.mkdir()
    processes = []
    try:
        upstream, up = start_emulator("--seed", "3")
        processes.append(upstream)
        proxy, px = start_emulator("--upstream", up)
        processes.append(proxy)
        recorder, rc = start_emulator("--upstream", up, "--record", str(recording))
        processes.append(recorder)
        with httpx.Client(timeout=30) as client:
            direct = p50_ms(client, up + "/api/v2/chat/completions", CHAT, count)
            proxied = p50_ms(client, px + "/api/v2/chat/completions", CHAT, count)
            recorded = p50_ms(client, rc + "/api/v2/chat/completions", CHAT, count)
            direct_ttfb = ttfb_ms(client, up + "/api/v2/chat/completions", STREAM, count // 3)
            proxied_ttfb = ttfb_ms(client, px + "/api/v2/chat/completions", STREAM, count // 3)
            content = client.post(up + "/api/v2/chat/completions", json=CHAT, headers=AUTH).json()
        text = content["choices"][0]["message"]["content"].replace("'", "''")
        (fixtures / "plain.yaml").write_text(
            f"fixtures:\n  - match: {{last_user_message: 'Hello!'}}\n    response: {{content: '{text}'}}\n")
        replay, rp = start_emulator("--fixtures-dir", str(recording), "--replay-speed", "0")
        processes.append(replay)
        plain, pl = start_emulator("--fixtures-dir", str(fixtures))
        processes.append(plain)
        with httpx.Client(timeout=30) as client:
            replayed = p50_ms(client, rp + "/api/v2/chat/completions", CHAT, count)
            fixture = p50_ms(client, pl + "/api/v2/chat/completions", CHAT, count)
        print(f"non-streamed chat p50: upstream {direct:.2f} ms, proxied {proxied:.2f} ms "
              f"(+{proxied - direct:.2f} ms); recording too {recorded:.2f} ms (+{recorded - direct:.2f} ms)")
        print(f"256-token stream TTFB p50: upstream {direct_ttfb:.2f} ms, proxied {proxied_ttfb:.2f} ms "
              f"(+{proxied_ttfb - direct_ttfb:.2f} ms)")
        print(f"replayed answer p50 {replayed:.2f} ms, plain fixture p50 {fixture:.2f} ms "
              f"({replayed - fixture:+.2f} ms)")
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)


if __name__ == "__main__":
    main()
