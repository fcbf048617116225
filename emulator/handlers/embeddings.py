"""POST /api/v2|v3/embeddings."""

from __future__ import annotations

import base64
import uuid
from typing import Any

from ..call import Call, Draft
from ..errors import BadRequest
from ..generation import vectors as embedding
from ..generation.text import request_key
from ..tokenizer import count

Vectors = list[list[float]]


async def create(call: Call) -> Draft[Vectors]:
    emulator, body = call.emulator, call.body
    model = emulator.catalog.for_request(body.get("model"), "embedding", "Embeddings API",
                                         scripted=call.script is not None)
    inputs = _inputs(body.get("input"))
    dimensions = body.get("dimensions")
    if dimensions is not None:
        if not isinstance(dimensions, int) or not 1 <= dimensions <= (model.dimensions or 0):
            raise BadRequest(f"dimensions must be between 1 and {model.dimensions}, got {dimensions}.",
                             param="dimensions")
    token_counts = [len(item) if isinstance(item, list) else count(item) for item in inputs]
    for tokens in token_counts:
        if tokens > model.max_model_len:
            raise BadRequest(f"This model's maximum context length is {model.max_model_len} tokens. However, "
                             f"you requested {tokens} tokens in the input for embedding generation. Please "
                             f"reduce the length of the input.")
    size = model.dimensions or 1024
    total = sum(token_counts)

    def generate() -> Vectors:
        return [embedding.embed(item, size, dimensions) for item in inputs]

    def body_of(vectors: Vectors) -> dict[str, Any]:
        as_base64 = body.get("encoding_format") == "base64"
        data = [{"object": "embedding", "embedding": _encode(v) if as_base64 else v, "index": i}
                for i, v in enumerate(vectors)]
        digest = request_key(emulator.settings.seed, body)
        return {"object": "list", "data": data, "model": body.get("model"),
                "usage": {"prompt_tokens": total, "total_tokens": total},
                "id": str(uuid.UUID(bytes=digest[:16], version=4))}

    return Draft(call=call, sampling=None, prompt_tokens=total, generate=generate, body_of=body_of)


def _inputs(value: Any) -> list[Any]:
    """A string, a list of strings, a list of token ids, or a list of token-id lists -> a list of items."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
        return [value]
    if isinstance(value, list) and value:
        return list(value)
    raise BadRequest("Input must not be empty.", param="input")


def _encode(vector: list[float]) -> str:
    return base64.b64encode(embedding.pack_float32(vector)).decode("ascii")
