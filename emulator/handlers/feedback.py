"""POST /api/v2/rate/{feedback_type_id}/{completion_id}: a feedback on a v2 completion.

Documented: "Log a feedback of a given type and linked to an existing completion", the two path
parameters, a JSON body. The body's fields and the answer were not captured; the emulator's choice:

    feedback types    1 like, 2 dislike, 3 copy (what the chats-feedback report counts: likes,
                      dislikes, copies); any other id is a 404, as DRF's get_object_or_404 answers
    body              {"comment": string | null} (optional; a longer one is a 400)
    answer            201 {"id", "feedback_type_id", "feedback_type", "completion_id", "comment",
                      "created_at"}

The emulator keeps no record of which completions it made, so any ``completion_id`` is taken. A
feedback is a record of the state backend (space ``feedbacks``, one per completion and type), so
a second one of the same type replaces the first and keeps its id.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from ..call import Call, Handler, json_response
from ..documents.workspaces import iso
from ..errors import NotFound
from ..state import Backend, Value
from .common import body_of

SPACE, COUNTER = "feedbacks", "feedbacks"
FEEDBACK_TYPES = {1: "like", 2: "dislike", 3: "copy"}


class Feedback:
    def __init__(self, state: Backend, epoch: int):
        self.state, self.epoch = state, epoch

    def handlers(self) -> dict[str, Handler]:
        return {"api_v2_rate_create": self.rate}

    async def rate(self, call: Call) -> Response:
        kind = call.path_params["feedback_type_id"]
        if kind not in FEEDBACK_TYPES:
            raise NotFound()
        completion = str(call.path_params["completion_id"])
        number = await self.state.incr(COUNTER)
        made = {"id": number, "feedback_type_id": kind, "feedback_type": FEEDBACK_TYPES[kind],
                "completion_id": completion, "comment": body_of(call).get("comment"),
                "created_at": iso(self.epoch + number)}

        def keep(current: Value | None) -> Value | None:
            if isinstance(current, dict):
                return {**made, "id": current["id"], "created_at": current["created_at"]}
            return made

        stored: Any = await self.state.update(SPACE, f"{completion}:{kind}", keep)
        return json_response(stored, status=201)
