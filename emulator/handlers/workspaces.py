"""/api/v3/workspaces and /api/v3/tags: list, create, retrieve, update; tags created and deleted.

Both live in the state backend (``documents/workspace_store.py``), seeded from fixtures/workspaces.yaml;
each user sees their own personal workspace, their company's, the custom ones they created or are
a member of, and the seeded ones as their company changed them (another user's answers 404).
A tag answers in the newer docs' shape (``name``, ``description``, ``auto_assign``,
``document_count``) and keeps the older one's ``tag`` and ``artificial`` beside it, so clients
written against either read what they expect.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from ..call import Call, Handler, json_response
from ..documents.store import FileRecord, FileStore
from ..documents.workspace_store import WorkspaceStore
from ..documents.workspaces import Tag, Workspace, iso
from ..errors import NotFound, ValidationError
from ..identity.overlay import company_of
from ..identity.ownership import OWNER_COMPANY
from .common import body_of, paginate


def _members(given: Any) -> dict[str, list[int]]:
    """``members`` in either documented form ({"users": [1]} or {"users": [{"id": 1, "role": ...}]}) ->
    the ids the answer lists."""
    given = given if isinstance(given, dict) else {}
    return {kind: [m["id"] if isinstance(m, dict) else m for m in given.get(kind) or []]
            for kind in ("users", "groups")}


def workspace_body(workspace: Workspace, files: list[FileRecord]) -> dict[str, Any]:
    mine = [r for r in files if r.workspace_id == workspace.id]
    return {**workspace.summary(), "description": workspace.description,
            "document_upload_method": workspace.document_upload_method,
            "created_at": iso(workspace.created_at),
            "updated_at": iso(workspace.updated_at or workspace.created_at),
            "user_role": workspace.user_role, "members": workspace.members, "summaries": [],
            "file_count": len(mine), "files_count": len(mine),
            "used_storage": float(sum(r.size for r in mine))}


def tag_body(tag: Tag, files: list[FileRecord]) -> dict[str, Any]:
    stamp = iso(tag.created_at)
    return {"id": tag.id, "name": tag.name, "description": tag.description, "auto_assign": tag.auto_assign,
            "created_at": stamp, "updated_at": iso(tag.updated_at or tag.created_at),
            "document_count": sum(1 for r in files if tag.id in r.tag_ids),
            "tag": tag.name, "artificial": tag.auto_assign}  # the older docs' names for the same


class Workspaces:
    """/api/v3/workspaces (+ /{id}) and /api/v3/tags (+ /{id})."""

    def __init__(self, files: FileStore, workspaces: WorkspaceStore):
        self.files, self.workspaces = files, workspaces

    def handlers(self) -> dict[str, Handler]:
        return {"api_v3_workspaces_list": self.list_workspaces,
                "api_v3_workspaces_create": self.create_workspace,
                "api_v3_workspaces_retrieve": self.retrieve_workspace,
                "api_v3_workspaces_partial_update": self.update_workspace,
                "api_v3_tags_list": self.list_tags, "api_v3_tags_create": self.create_tag,
                "api_v3_tags_destroy": self.destroy_tag}

    # -- workspaces -------------------------------------------------------------------------------

    async def list_workspaces(self, call: Call) -> Response:
        query = call.query
        files = await self.files.all(call.user)
        workspaces = list((await self.workspaces.workspaces(call.user)).values())
        if "name" in query:
            needle = str(query["name"]).lower()
            workspaces = [w for w in workspaces if needle in w.name.lower()]
        filters = (("workspace_type", "workspace_type"), ("document_upload_method", "document_upload_method"),
                   ("role", "user_role"))
        for field, attribute in filters:
            if field in query:
                workspaces = [w for w in workspaces if getattr(w, attribute) == query[field]]
        workspaces.sort(key=lambda w: (-w.created_at, w.id))  # newest first, as documented
        page, count, following, previous = paginate(call.request, workspaces, query.get("page", 1),
                                                    query.get("page_size", 20))
        return json_response({"count": count, "next": following, "previous": previous,
                              "results": [workspace_body(w, files) for w in page]})

    async def _workspace_or_404(self, call: Call) -> Workspace:
        workspace = await self.workspaces.workspace(call.path_params["id"], call.user)
        if workspace is None:
            raise NotFound()
        return workspace

    async def retrieve_workspace(self, call: Call) -> Response:
        workspace = await self._workspace_or_404(call)
        return json_response(workspace_body(workspace, await self.files.all(call.user)))

    async def create_workspace(self, call: Call) -> Response:
        body = call.body
        workspace = await self.workspaces.create_workspace(
            body["name"], body["description"], body.get("document_upload_method", "manual"),
            _members(body.get("members")) if "members" in body else None, call.user)
        return json_response(workspace_body(workspace, []), 200)  # 200, as the docs' page renders it

    async def update_workspace(self, call: Call) -> Response:
        workspace = await self._workspace_or_404(call)
        body = body_of(call)
        changes: dict[str, Any] = {k: body[k] for k in ("name", "description") if k in body}
        if "members" in body:
            changes["members"] = _members(body["members"])  # replaces them all
        if not changes:
            return json_response(workspace_body(workspace, await self.files.all(call.user)))

        updated = await self.workspaces.update_workspace(call.path_params["id"],
                                                         lambda w: w.replace(**changes), call.user)
        if updated is None:
            raise NotFound()
        return json_response(workspace_body(updated, await self.files.all(call.user)))

    # -- tags ---------------------------------------------------------------------------------------------

    async def list_tags(self, call: Call) -> Response:
        query = call.query
        files = await self.files.all(call.user)
        tags = sorted((await self.workspaces.tags(call.user)).values(), key=lambda t: (t.created_at, t.id),
                      reverse=True)
        for field in ("artificial", "auto_assign"):
            if field in query:
                tags = [t for t in tags if t.auto_assign is query[field]]
        for field in ("tag", "name"):
            if field in query:
                needle = str(query[field]).lower()
                tags = [t for t in tags if needle in t.name.lower()]
        page, count, following, previous = paginate(call.request, tags, query.get("page", 1))
        return json_response({"count": count, "next": following, "previous": previous,
                              "results": [tag_body(t, files) for t in page]})

    async def create_tag(self, call: Call) -> Response:
        body = call.body
        name = body["name"].strip()
        if not name:
            raise ValidationError({"name": ["This field may not be blank."]})
        tag = await self.workspaces.create_tag(name, body["description"], body.get("auto_assign", True),
                                               call.user)
        if tag is None:
            raise ValidationError({"name": [f'A tag named "{name}" already exists.']})
        return json_response(tag_body(tag, []), 201)

    async def destroy_tag(self, call: Call) -> Response:
        """Delete a tag for the caller's company, and with it its files' association with it (another
        company's files keep a seeded tag it still has)."""
        tag_id = call.path_params["id"]
        if not await self.workspaces.delete_tag(tag_id, call.user):
            raise NotFound()
        company = company_of(call.user)
        for record in await self.files.all():
            if tag_id in record.tag_ids and record.extra.get(OWNER_COMPANY) == company:
                await self.files.update(record.id, lambda r: r.replace(
                    tag_ids=tuple(t for t in r.tag_ids if t != tag_id),
                    auto_tag_ids=tuple(t for t in r.auto_tag_ids if t != tag_id)))
        return Response(status_code=204)
