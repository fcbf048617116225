"""The delivery step's answer sources of this package: a recorded exchange, and the upstream.

Both are consulted before the handler (``delivery.Source``), so they can answer any operation,
model call or not; neither answer is ever memoised.
"""

from __future__ import annotations

from starlette.responses import Response

from ..call import Call
from .proxy import Upstream
from .replay import replay_response


class RecordingSource:
    """A fixture that holds a recorded exchange (``response.raw``): the recorded bytes, replayed at
    ``--replay-speed``."""

    def __init__(self, speed: float):
        self.speed = speed

    async def answer(self, call: Call) -> Response | None:
        script = call.script
        if script is None or "raw" not in script.response:
            return None
        call.source = "recording"
        return replay_response(script.response["raw"], self.speed)


class UpstreamSource:
    """``--upstream``: every call no fixture matched, forwarded to the real service."""

    def __init__(self, upstream: Upstream):
        self.upstream = upstream

    async def answer(self, call: Call) -> Response | None:
        if call.script is not None:
            return None
        return await self.upstream.answer(call)
