"""/api/v3/mcp (+ /{id}, /{id}/tools): the MCP servers the user sees, and the tools each one offers.

Servers are ``conversations.mcp.McpServers``: those the agents file declares (every company's) and
those created here (the creator's company's: another company's answers 404). The emulator never
connects to a server's URL; its tools are the ones the agents file declares for it. Credentials
are never returned nor kept (``has_credentials`` says there were some).
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from ..call import Call, Handler, json_response
from ..conversations import choices
from ..conversations.mcp import McpServers, public_server
from ..errors import NotFound
from ..identity.overlay import company_of
from .common import paginate


class Mcp:
    def __init__(self, servers: McpServers):
        self.servers = servers

    def handlers(self) -> dict[str, Handler]:
        return {"api_v3_mcp_list": self.list_servers, "api_v3_mcp_create": self.create_server,
                "api_v3_mcp_retrieve": self.retrieve_server, "api_v3_mcp_tools_list": self.server_tools}

    async def _server_or_404(self, call: Call) -> dict[str, Any]:
        server = await self.servers.get(str(call.path_params["id"]), company_of(call.user))
        if server is None:
            raise NotFound()
        return server

    async def list_servers(self, call: Call) -> Response:
        servers = await self.servers.all(company_of(call.user))
        page, count, following, previous = paginate(call.request, servers, call.query.get("page", 1),
                                                    choices.MCP_PAGE)
        return json_response({"count": count, "next": following, "previous": previous,
                              "results": [public_server(s) for s in page]})

    async def create_server(self, call: Call) -> Response:
        body = call.body
        method = body.get("authentication_method") or "bearer_token"
        credentials = body.get("credentials")
        record = await self.servers.create(str(body["name"]), str(body["url"]), method,
                                           credentials if method != "none" else None, company_of(call.user))
        return json_response(public_server(record), status=201)

    async def retrieve_server(self, call: Call) -> Response:
        return json_response(public_server(await self._server_or_404(call)))

    async def server_tools(self, call: Call) -> Response:
        server = await self._server_or_404(call)
        return json_response([tool.public() for tool in self.servers.tools(server)])
