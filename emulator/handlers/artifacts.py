"""GET /api/v3/artifacts/{id}: a file a turn's tool call produced (its shape: ``conversations.choices``)."""

from __future__ import annotations

import math

from starlette.responses import Response

from ..call import Call, Handler, json_response
from ..conversations import timeline
from ..conversations.records import Conversations
from ..errors import NotFound
from ..state import Clock


class Artifacts:
    def __init__(self, conversations: Conversations, clock: Clock):
        self.conversations, self.clock = conversations, clock

    def handlers(self) -> dict[str, Handler]:
        return {"api_v3_artifacts_retrieve": self.retrieve}

    async def retrieve(self, call: Call) -> Response:
        found = await self.conversations.artifact(str(call.path_params["id"]))
        if found is None:
            raise NotFound()
        artifact, turn = found
        _, reached = timeline.status_at(turn, await self.clock.now())
        if reached != math.inf and artifact["available_at"] > reached:
            raise NotFound()  # its tool call has not completed (yet, or ever: a cancelled turn)
        return json_response({k: v for k, v in artifact.items() if k != "available_at"})
