"""POST /api/v2|v3/embeddings."""

from __future__ import annotations

import asyncio
import base64
import uuid
from typing import Any

from starlette.responses import Response

from ..call import Call, Draft, Handler, Vectors
from ..config import Settings
from ..errors import BadRequest, dumps
from ..generation import vectors as embedding
from ..generation.text import request_key
from ..sampling import ModelLookup
from ..tokenizer import count_within

# Past this many inputs the vectors and their JSON (~0.6 ms an input of 1024 floats) are made in a
# thread: 2,048 inputs take a second or two, which the event loop spends answering everyone else.
OFF_LOOP_INPUTS = 64


class Embeddings:
    def __init__(self, models: ModelLookup, settings: Settings):
        self.models, self.settings = models, settings

    def handlers(self) -> dict[str, Handler]:
        return {"api_v2_embeddings_create": self.create, "api_v3_embeddings_create": self.create}

    async def create(self, call: Call) -> Draft[Vectors]:
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

        def generate() -> Vectors:
            return [embedding.embed(item, size, dimensions) for item in inputs]

        def body_of(vectors: Vectors) -> dict[str, Any]:
            as_base64 = body.get("encoding_format") == "base64"
            data = [{"object": "embedding", "embedding": _encode(v) if as_base64 else v, "index": i}
                    for i, v in enumerate(vectors)]
            digest = request_key(settings.seed, body)
            return {"object": "list", "data": data, "model": body.get("model"),
                    "usage": {"prompt_tokens": total, "total_tokens": total},
                    "id": str(uuid.UUID(bytes=digest[:16], version=4))}

        async def generated() -> Response:
            # The generator's answer, made in a thread; a fixture's answer goes the usual way (delivery).
            return await asyncio.to_thread(lambda: _json_in_pieces(body_of(generate())))

        return Draft(call=call, n=None, stream=False, prompt_tokens=total, generate=generate, body_of=body_of,
                     generated=generated if len(inputs) > OFF_LOOP_INPUTS else None)


def _json_in_pieces(payload: dict[str, Any]) -> Response:
    """The bytes json_response would make, one embedding at a time: json.dumps is one C call that keeps
    the GIL to its end, so a single call for 2 million floats would stall the loop from this thread too."""
    frame = dumps({**payload, "data": []})
    items = b",".join(dumps(item) for item in payload["data"])
    body = frame.replace(b'"data":[]', b'"data":[' + items + b"]", 1)
    return Response(body, media_type="application/json")


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
