"""The fast JSON encoder gives exactly the standard library's bytes, for every kind of value."""

from __future__ import annotations

import json
import math
import random
import struct
from typing import Any

import pytest

from emulator.jsonbytes import dumps, dumps_sorted, map_strings


def stdlib(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def outcome(encode: Any, value: Any) -> bytes | type:
    try:
        return encode(value)
    except (TypeError, ValueError) as exc:
        return type(exc)


def some_float(rng: random.Random) -> float:
    kind = rng.random()
    if kind < 0.3:
        return rng.uniform(-1, 1) * 10 ** rng.randint(-30, 30)
    if kind < 0.6:  # an embedding's component: float32, around 0
        return struct.unpack("<f", struct.pack("<f", rng.gauss(0, 0.03)))[0]
    if kind < 0.8:  # any bit pattern: subnormals, huge ones, NaN, the infinities
        return struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0]
    return rng.randint(-10**18, 10**18) / 10 ** rng.randint(0, 25)


TRICKY_TEXT = 'ab"\\\n\x01\x7f\u2028é😀1e-5 0.00001 e-7{}[],:'


def some_text(rng: random.Random) -> str:
    return "".join(rng.choice(TRICKY_TEXT) for _ in range(rng.randint(0, 12)))


def some_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.random()
    if depth > 3 or kind < 0.4:
        leaf = rng.random()
        if leaf < 0.5:
            return some_float(rng)
        if leaf < 0.6:
            return rng.randint(-2**70, 2**70)  # past 64 bits too
        if leaf < 0.7:
            return None
        if leaf < 0.8:
            return rng.choice([True, False])
        return some_text(rng)
    if kind < 0.7:
        return [some_value(rng, depth + 1) for _ in range(rng.randint(0, 6))]
    return {some_text(rng): some_value(rng, depth + 1) for _ in range(rng.randint(0, 5))}


def test_map_strings_changes_every_string_value_and_no_key() -> None:
    value = {"a": "x", "b": [1, "y", {"c": "z", "d": None}], "e": 2.5}
    assert map_strings(value, str.upper) == {"a": "X", "b": [1, "Y", {"c": "Z", "d": None}], "e": 2.5}


@pytest.mark.parametrize("seed", range(4))
def test_random_values_encode_to_the_same_bytes(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(20_000):
        value = some_value(rng)
        assert outcome(dumps, value) == outcome(stdlib, value), repr(value)[:300]


@pytest.mark.parametrize("seed", range(2))
def test_sorted_random_values_encode_as_sort_keys_does(seed: int) -> None:
    """The generator's request key: the bytes of ``sort_keys=True`` (keys of every script, sorted)."""
    def sorted_stdlib(value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True,
                          default=str).encode()

    rng = random.Random(seed)
    for _ in range(20_000):
        value = {**{some_text(rng): some_value(rng) for _ in range(3)}, "é": 1, "😀": 2, "z": 3, "A": 4}
        expected = outcome(sorted_stdlib, value)
        assert outcome(lambda v: dumps_sorted(v, str), value) == expected, repr(value)[:300]


def test_embedding_vectors_encode_to_the_same_bytes() -> None:
    rng = random.Random(7)
    for _ in range(200):
        vector = [struct.unpack("<f", struct.pack("<f", rng.gauss(0, 0.03)))[0] for _ in range(1024)]
        body = {"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": vector}]}
        assert dumps(body) == stdlib(body)


@pytest.mark.parametrize("value", [
    1e-05, 1.5e-07, 1e16, 1e22, 0.0001, -0.0, 3.0, 5e-324, 1.7976931348623157e308, 10.00001,
    math.nan, -math.inf, [math.inf, None], {"a": None, "b": [1.0, math.nan]}, {"text": "1e-7 0.00001"},
    {1: "a key that is not a string"}, 2**64, -(2**63) - 1, "\ud800", (1, 2.5e-9), {"k": (None,)},
    {"id": "9b2e-83e-4a1e-0000", "n": 1e-07}, {"t": ":1e-7,", "u": "[0.00001]"}, ["x:1e-7]", 1e-7],
    "1e-7", {"a": [1e-7]}, {"3e-4": 2e-5}, [[0.00001], {"b": 1.5e-07}],
])
def test_edge_cases_encode_or_fail_as_the_standard_library_does(value: Any) -> None:
    assert outcome(dumps, value) == outcome(stdlib, value)


def test_default_is_the_standard_librarys_for_what_orjson_refuses() -> None:
    value = {"a": {1, 2} and frozenset([3])}
    assert dumps(value, str) == json.dumps(value, separators=(",", ":"), ensure_ascii=False,
                                           default=str).encode()


def test_a_small_body_is_held_in_a_buffer_of_its_own_size():
    import tracemalloc

    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [dumps({"text": "x" * 500, "n": n}) for n in range(1000)]
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(kept[0]) < 520
    assert held < 1000 * 1024  # orjson's own result keeps a buffer of 4 KB or more


def test_dumps_finite_writes_what_dumps_writes():
    from emulator.jsonbytes import dumps_finite

    chunks = {"chunks": [[round(i * 0.37, 3), f'data: {{"x":null,"y":1e-0{i % 9}}}\n\n'] for i in range(300)]
              + [[0.00001, "0.0000"], [1e-7, "e-"]]}
    assert dumps_finite(chunks) == dumps(chunks)


def float32_array(values: list[float]) -> Any:
    import numpy as np

    return np.array(values, dtype="<f4")


def test_float32_arrays_encode_as_their_float_lists_do() -> None:
    from emulator.jsonbytes import dumps_float32

    rng = random.Random(11)
    for _ in range(300):
        scale = 10 ** rng.randint(-8, 0)
        vector = float32_array([rng.gauss(0, scale) for _ in range(rng.choice([1, 7, 384, 1024]))])
        assert dumps_float32(vector) == stdlib(vector.tolist())


@pytest.mark.parametrize("values", [
    [], [0.0], [-0.0], [1e-5], [-1e-5, 3.0], [3.0, 1.5e-7], [1e-4, 0.99999994e-4, 1.0000001e-4],
    [1e-45, -1e-45, 1.17549435e-38], [3.4e38, -3.4e38, 1e16, 1e22], [1e-30, 0.5, 1e-4, 2e-5, 1.0, -1.0],
    [math.nan, 1.0], [1.0, math.inf], [-math.inf],
], ids=repr)
def test_float32_edge_values_encode_as_the_standard_library_does(values: list[float]) -> None:
    from emulator.jsonbytes import dumps_float32

    vector = float32_array(values)
    assert dumps_float32(vector) == stdlib(vector.tolist())


def test_generated_embeddings_encode_as_their_float_lists_do() -> None:
    from emulator.generation.vectors import embed_array
    from emulator.jsonbytes import dumps_float32

    for n in range(500):
        vector = embed_array(f"Text to embed {n}", 1024)
        assert dumps_float32(vector) == stdlib(vector.tolist())
