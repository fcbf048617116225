"""The embedding vector computed one Python float at a time: how ``emulator.generation.vectors``
computed it before numpy did, kept as the reference its numpy version is compared with bit for bit."""

from __future__ import annotations

import hashlib
import math
import struct
from collections.abc import Sequence

from emulator.generation.vectors import features

SPREAD = 8
BACKGROUND = 0.08
SCALE = 1 / math.sqrt(SPREAD)


def reference_vector(item: str | Sequence[int], size: int, dimensions: int) -> list[float]:
    text = item if isinstance(item, str) else " ".join(map(str, item))
    noise = hashlib.shake_256(b"text:" + text.encode("utf-8")).digest(2 * size)
    vector = [(v - 32768) * (BACKGROUND / 32768) for v in struct.unpack(f"<{size}H", noise)]
    counts: dict[str, int] = {}
    for feature in features(item):
        counts[feature] = counts.get(feature, 0) + 1
    for feature, times in counts.items():
        weight = math.sqrt(times)
        digest = hashlib.shake_256(b"word:" + feature.encode("utf-8")).digest(4 * SPREAD)
        for value in struct.unpack(f"<{SPREAD}I", digest):
            vector[value % size] += (SCALE if value & 0x80000000 else -SCALE) * weight
    vector = vector[:dimensions]
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    scaled = [v / norm for v in vector]
    return list(struct.unpack(f"<{len(scaled)}f", struct.pack(f"<{len(scaled)}f", *scaled)))
