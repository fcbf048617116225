"""GET /api/v3/agents/{id}/files (what an agent can see) and PUT /api/v3/agents/{id}/icon.

An agent sees the files of its workspaces. With ``query`` (or ``search``), only the files that
answer it are listed, the most relevant first, each with ``search_details.relevant_chunks``: its
best chunks, scored by the same hybrid search every document tool runs (``Retrieval.search``).
"""

from __future__ import annotations

from starlette.responses import Response

from ..bodies import MB
from ..call import Call, Handler, json_response
from ..conversations import choices
from ..conversations.directory import AgentDirectory
from ..documents.ingestion import Ingestion
from ..documents.retrieval import Retrieval
from ..documents.store import FileRecord, FileStore, Hit
from ..documents.workspace_store import WorkspaceStore
from ..errors import ValidationError
from ..identity.overlay import company_of
from .agents import agent_or_404
from .common import paginate
from .file_filters import filtered
from .files import base_name, read_part
from .v3_file import v3_file

RELEVANT_CHUNKS = 3  # the chunks a file's search_details shows, best first


class AgentFiles:
    def __init__(self, agents: AgentDirectory, files: FileStore, ingestion: Ingestion,
                 workspaces: WorkspaceStore, retrieval: Retrieval):
        self.agents, self.files, self.ingestion = agents, files, ingestion
        self.workspaces, self.retrieval = workspaces, retrieval

    def handlers(self) -> dict[str, Handler]:
        return {"api_v3_agents_files_list": self.list_files, "api_v3_agents_icon_update": self.upload_icon}

    async def list_files(self, call: Call) -> Response:
        query = call.query
        agent = await agent_or_404(self.agents, call)
        seen = {w.id for w in await self.workspaces.resolve(agent.get("workspaces") or [], call.user)}
        records = [r for r in await self.files.all(call.user) if r.workspace_id in seen]
        # v3's list filters, those of this list: by extension and by filename.
        records = await filtered({k: query[k] for k in ("extension", "filename") if k in query}, records,
                                 self.ingestion)
        text = query.get("query", query.get("search"))
        found: dict[int, list[Hit]] | None = None
        if text is not None:
            records, found = await self._relevant(str(text), records)
        page, count, following, previous = paginate(call.request, records, query.get("page", 1))
        page = await self.ingestion.settle(page)
        now = await self.ingestion.now()
        workspaces, tags = await self.workspaces.named(call.user)
        results = []
        for record in page:
            answer = v3_file(self.ingestion, record, now, workspaces, tags)
            answer["search_details"] = None if found is None else {
                "relevant_chunks": [{"text": h.text, "final_score": h.score, "chunk_type": "text",
                                     "lexical_score": h.lexical_score, "distance": h.distance}
                                    for h in found.get(record.id, [])]}
            results.append(answer)
        return json_response({"count": count, "next": following, "previous": previous, "results": results})

    async def _relevant(self, text: str, records: list[FileRecord]
                        ) -> tuple[list[FileRecord], dict[int, list[Hit]]]:
        """The files with a chunk that holds a word of ``text``, best first, and their best chunks."""
        if not records or not text.strip():
            return [], {}
        by_id = {r.id: r for r in records}
        best: dict[int, list[Hit]] = {}
        for hit in await self.retrieval.search(text, file_ids=list(by_id), n=1 << 30):
            if hit.lexical_score > 0 and len(best.setdefault(hit.record.id, [])) < RELEVANT_CHUNKS:
                best[hit.record.id].append(hit)
        ranked = sorted((i for i in best if best[i]), key=lambda i: (-best[i][0].score, -i))
        return [by_id[i] for i in ranked], best

    async def upload_icon(self, call: Call) -> Response:
        agent = await agent_or_404(self.agents, call)
        upload, data = await read_part(call, "icon")
        if not data:
            raise ValidationError({"icon": ["The submitted file is empty."]})
        if len(data) > choices.ICON_MB * MB:
            raise ValidationError({"icon": [f"The icon is {len(data)} bytes; an icon may be at most "
                                            f"{choices.ICON_MB} MB ({choices.ICON_MB * MB} bytes)."]})
        name = base_name(upload.filename or "icon")
        icon = {"filename": name, "size": len(data),
                "content_type": upload.content_type or "application/octet-stream"}
        await self.agents.patch(agent["id"], {"icon": icon, "updated_at": await self.agents.update_stamp()},
                               company_of(call.user))
        return json_response(choices.ICON_UPLOADED)
