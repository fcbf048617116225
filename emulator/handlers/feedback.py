"""POST /api/v2/rate/{feedback_type_id}/{completion_id}: a feedback on a v2 completion.

Documented: "Log a feedback of a given type and linked to an existing completion", the two path
parameters, a JSON body. The body's fields and the answer were not captured; the emulator's choice:

    feedback types    1 like, 2 dislike, 3 copy (what the chats-feedback report counts: likes,
                      dislikes, copies); any other id is a 404, as DRF's get_object_or_404 answers
    body              {"comment": string | null} (optional; a longer one is a 400)
    answer            201 {"id", "feedback_type_id", "feedback_type", "completion_id", "comment",
                      "created_at"}

The emulator keeps no record of which completions it made, so any ``completion_id`` is taken. A
second feedback of the same type on a completion replaces the first and keeps its id
(``conversations/feedbacks.py``).
"""

from __future__ import annotations

from starlette.responses import Response

from ..call import Call, Handler, json_response
from ..conversations.feedbacks import FeedbackStore
from ..documents.workspaces import iso
from ..errors import NotFound
from .common import body_of

FEEDBACK_TYPES = {1: "like", 2: "dislike", 3: "copy"}


class Feedback:
    def __init__(self, feedbacks: FeedbackStore, epoch: int):
        self.feedbacks, self.epoch = feedbacks, epoch

    def handlers(self) -> dict[str, Handler]:
        return {"api_v2_rate_create": self.rate}

    async def rate(self, call: Call) -> Response:
        kind = call.path_params["feedback_type_id"]
        if kind not in FEEDBACK_TYPES:
            raise NotFound()
        completion = str(call.path_params["completion_id"])
        number = await self.feedbacks.next_number()
        made = {"id": number, "feedback_type_id": kind, "feedback_type": FEEDBACK_TYPES[kind],
                "completion_id": completion, "comment": body_of(call).get("comment"),
                "created_at": iso(self.epoch + number)}
        return json_response(await self.feedbacks.keep(completion, kind, made), status=201)
