"""GET /api/v2/models, and GET /api/v3/models (the same list, where the openai SDK looks for it)."""

from __future__ import annotations

from starlette.responses import Response

from ..call import Call, Handler, json_response
from ..catalog import Catalog


class Models:
    def __init__(self, catalog: Catalog, epoch: int):
        self.catalog, self.epoch = catalog, epoch

    def handlers(self) -> dict[str, Handler]:
        return {"api_v2_models_list": self.list_models, "api_v3_models_list": self.list_models}

    async def list_models(self, call: Call) -> Response:
        return json_response({"object": "list", "data": [m.public(self.epoch) for m in self.catalog.models]})
