"""The yardstick: a bare Starlette app answering the emulator's endpoints with fixed bodies of the
same shape (JSONResponse serializes per request, the stream sends the same number of chunks).

Under ``/prebuilt`` the same endpoints send bytes made once at import (the body still read and
parsed): the ceiling of the stack itself, the second anchor of bench/bench.py.

Run by bench/bench.py under the same uvicorn settings as the emulator.
"""

from __future__ import annotations

import json

from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

STREAM_TOKENS = 256
WORD = " token"

CHAT = {
    "id": "chatcmpl-0", "object": "chat.completion", "created": 1735689600, "model": "alfred-4.2",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "A fixed answer of sixteen tokens, "
                                         "more or less, for the bare app to return.", "tool_calls": []},
                 "logprobs": None, "finish_reason": "length", "stop_reason": None}],
    "usage": {"prompt_tokens": 14, "total_tokens": 30, "completion_tokens": 16},
}
EMBEDDINGS = {
    "object": "list",
    "model": "multilingual-e5-large",
    "id": "00000000-0000-4000-8000-000000000000",
    "data": [
        {
            "object": "embedding",
            "index": 0,
            "embedding": [((i * 7919) % 2000 - 1000) / 31622.7766 for i in range(1024)],
        }
    ],
    "usage": {"prompt_tokens": 3, "total_tokens": 3},
}
MODELS = {
    "object": "list",
    "data": [
        {
            "id": name,
            "object": "model",
            "created": 1735689600,
            "owned_by": "lighton",
            "name": name,
            "technical_name": name,
            "model_type": "Large Language Model",
            "enabled": True,
        }
        for name in (
            "alfred-4.2",
            "alfred-4",
            "alfred-40b-1123",
            "alfred-sv5",
            "alfred-ft5",
            "multilingual-e5-large",
        )
    ],
}


def _chunk(choice: dict) -> bytes:
    return (
        "data: "
        + json.dumps(
            {
                "id": "chatcmpl-0",
                "object": "chat.completion.chunk",
                "created": 1735689600,
                "model": "alfred-4.2",
                "choices": [choice],
            },
            separators=(",", ":"),
        )
        + "\n\n"
    ).encode()


async def _stream():
    yield _chunk(
        {"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None, "finish_reason": None}
    )
    for i in range(STREAM_TOKENS):
        last = i == STREAM_TOKENS - 1
        yield _chunk({"index": 0, "delta": {"content": WORD}, "logprobs": None,
                      "finish_reason": "length" if last else None})
    yield b"data: [DONE]\n\n"


async def chat(request):
    body = await request.json()
    if body.get("stream"):
        return StreamingResponse(_stream(), media_type="text/event-stream")
    return JSONResponse(CHAT)


async def embeddings(request):
    await request.json()
    return JSONResponse(EMBEDDINGS)


async def models(request):
    return JSONResponse(MODELS)


def _prebuilt(body: dict) -> bytes:
    return JSONResponse(body).body


PREBUILT = {"chat": _prebuilt(CHAT), "embeddings": _prebuilt(EMBEDDINGS), "models": _prebuilt(MODELS)}


def _stream_chunks() -> list[bytes]:
    chunks = [_chunk({"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None,
                      "finish_reason": None})]
    for i in range(STREAM_TOKENS):
        last = i == STREAM_TOKENS - 1
        chunks.append(_chunk({"index": 0, "delta": {"content": WORD}, "logprobs": None,
                              "finish_reason": "length" if last else None}))
    return [*chunks, b"data: [DONE]\n\n"]


STREAM_CHUNKS = _stream_chunks()


async def _prebuilt_stream():
    for chunk in STREAM_CHUNKS:
        yield chunk


async def prebuilt_chat(request):
    body = await request.json()
    if body.get("stream"):
        return StreamingResponse(_prebuilt_stream(), media_type="text/event-stream")
    return Response(PREBUILT["chat"], media_type="application/json")


async def prebuilt_embeddings(request):
    await request.json()
    return Response(PREBUILT["embeddings"], media_type="application/json")


async def prebuilt_models(request):
    return Response(PREBUILT["models"], media_type="application/json")


app = Starlette(routes=[
    Route("/api/v2/chat/completions", chat, methods=["POST"]),
    Route("/api/v2/embeddings", embeddings, methods=["POST"]),
    Route("/api/v2/models", models, methods=["GET"]),
    Route("/prebuilt/api/v2/chat/completions", prebuilt_chat, methods=["POST"]),
    Route("/prebuilt/api/v2/embeddings", prebuilt_embeddings, methods=["POST"]),
    Route("/prebuilt/api/v2/models", prebuilt_models, methods=["GET"]),
])
