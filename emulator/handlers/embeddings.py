"""POST /api/v2|v3/embeddings."""

from __future__ import annotations

import asyncio
import base64
import uuid
from typing import Any

import numpy as np
from starlette.responses import Response

from ..call import Call, Draft, EncodedJSON, Handler
from ..config import Settings
from ..errors import BadRequest, dumps
from ..generation import vectors as embedding
from ..generation.text import request_key
from ..jsonbytes import dumps_float32
from ..sampling import ModelLookup
from ..tokenizer import count_within

# Past this many inputs the vectors and their JSON (~0.1 ms an input of 1024 floats) are made in a
# thread: 2,048 inputs take a few hundred ms, which the event loop spends answering everyone else.
OFF_LOOP_INPUTS = 64
# What the draft answers: the generator's float32 arrays, or a fixture's lists of floats.
Embedded = list[np.ndarray | list[float]]


class Embeddings:
    def __init__(self, models: ModelLookup, settings: Settings):
        self.models, self.settings = models, settings

    def handlers(self) -> dict[str, Handler]:
        return {"api_v2_embeddings_create": self.create, "api_v3_embeddings_create": self.create}

    async def create(self, call: Call) -> Draft[Embedded]:
        body, settings = call.body, self.settings
        model = self.models(call, "embedding", "Embeddings API")
        inputs = _inputs(body.get("input"))
        if len(inputs) > (limit := settings.max_embedding_inputs):
            raise BadRequest(f"{len(inputs)} inputs in one embeddings request; the limit is "
                             f"--max-embedding-inputs {limit}. Send them in batches.", param="input")
        dimensions = body.get("dimensions")
        if dimensions is not None:
            if not isinstance(dimensions, int) or not 1 <= dimensions <= (model.dimensions or 0):
                raise BadRequest(f"dimensions must be between 1 and {model.dimensions}, got {dimensions}.",
                                 param="dimensions")
        counted = call.input_tokens  # exact, when the rate limiter counted them: the same figures
        token_counts = (counted if counted is not None and len(counted) == len(inputs)
                        and max(counted) <= model.max_model_len
                        else await count_within(inputs, model.max_model_len))
        for tokens in token_counts:
            if tokens > model.max_model_len:
                raise BadRequest(f"This model's maximum context length is {model.max_model_len} tokens. "
                                 f"However, you requested {tokens} tokens in the input for embedding "
                                 f"generation. Please reduce the length of the input.")
        size = model.dimensions or 1024
        total = sum(token_counts)

        def generate() -> Embedded:
            return [embedding.embed_array(item, size, dimensions) for item in inputs]

        def rendered(vectors: Embedded) -> Response:
            digest = request_key(settings.seed, body)
            frame = {"object": "list", "data": [], "model": body.get("model"),
                     "usage": {"prompt_tokens": total, "total_tokens": total},
                     "id": str(uuid.UUID(bytes=digest[:16], version=4))}
            return EncodedJSON(_json_body(frame, vectors, body.get("encoding_format") == "base64"),
                               media_type="application/json")

        async def finish(vectors: Embedded) -> Response:
            return rendered(vectors)

        async def generated() -> Response:
            # The generator's answer, made in a thread; a fixture's answer goes the usual way (delivery).
            return await asyncio.to_thread(lambda: rendered(generate()))

        return Draft(call=call, n=None, stream=False, prompt_tokens=total, generate=generate,
                     body_of=_no_body, finish=finish,
                     generated=generated if len(inputs) > OFF_LOOP_INPUTS else None)


def _json_body(frame: dict[str, Any], vectors: Embedded, as_base64: bool) -> bytes:
    """The bytes ``dumps`` makes of ``frame`` with its data filled, one embedding at a time: a
    generated vector is written from its float32 array (``dumps_float32``), and no single C call
    for millions of floats keeps the GIL to its end when this runs in a thread."""
    items = b",".join(b'{"object":"embedding","embedding":%b,"index":%d}' % (_encode(v, as_base64), i)
                      for i, v in enumerate(vectors))
    return dumps(frame).replace(b'"data":[]', b'"data":[' + items + b"]", 1)


def _encode(vector: np.ndarray | list[float], as_base64: bool) -> bytes:
    if as_base64:
        packed = (vector.astype("<f4").tobytes() if isinstance(vector, np.ndarray)
                  else embedding.pack_float32(vector))
        return b'"' + base64.b64encode(packed) + b'"'
    return dumps_float32(vector) if isinstance(vector, np.ndarray) else dumps(vector)


def _no_body(vectors: Embedded) -> dict[str, Any]:
    raise AssertionError("embeddings are answered by the draft's finish, never rendered")  # pragma: no cover


def _inputs(value: Any) -> list[Any]:
    """A string, a list of strings, a list of token ids, or a list of token-id lists -> a list of items."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
        return [value]
    if isinstance(value, list) and value:
        return list(value)
    raise BadRequest("Input must not be empty.", param="input")
