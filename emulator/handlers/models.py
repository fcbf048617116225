"""GET /api/v2/models."""

from __future__ import annotations

from starlette.responses import Response

from ..routing import Call, json_response


async def list_models(call: Call) -> Response:
    emulator = call.emulator
    created = emulator.settings.epoch
    return json_response({"object": "list", "data": [m.public(created) for m in emulator.catalog.models]})
