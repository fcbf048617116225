"""GET /api/v2/models, and GET /api/v3/models (the same list, where the openai SDK looks for it)."""

from __future__ import annotations

from starlette.responses import Response

from ..call import Call, EncodedJSON, Handler
from ..catalog import Catalog
from ..jsonbytes import dumps


class Models:
    """The catalog is fixed for the server's life, so its body is encoded once, at start-up."""

    def __init__(self, catalog: Catalog, epoch: int):
        self.catalog, self.epoch = catalog, epoch
        self._body = dumps({"object": "list", "data": [m.public(epoch) for m in catalog.models]})

    def handlers(self) -> dict[str, Handler]:
        return {"api_v2_models_list": self.list_models, "api_v3_models_list": self.list_models}

    async def list_models(self, call: Call) -> Response:
        return EncodedJSON(self._body, media_type="application/json")
