"""The v2 and v3 files handlers as objects, without a server: built with an in-memory backend and
its stores, called with a ``Call`` made from a Starlette ``Request`` of a bare ASGI scope."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.datastructures import Headers, UploadFile
from starlette.requests import Request
from starlette.responses import Response

from emulator.call import Call
from emulator.config import DEFAULT_SPEC_DIR, Settings
from emulator.documents.ingestion import Ingestion
from emulator.documents.retrieval import Retrieval
from emulator.documents.store import FileStore
from emulator.documents.workspace_store import WorkspaceStore
from emulator.errors import NotFound, PayloadTooLarge, ValidationError
from emulator.handlers.files import Files
from emulator.handlers.files_v3 import FilesV3
from emulator.operations import OperationNames
from emulator.routing import compile_route
from emulator.spec import Operation, load_specs
from emulator.state.memory import MemoryBackend

pytestmark = pytest.mark.anyio
OPERATIONS: dict[str, Operation] = {op.operation_id: op for spec in load_specs(DEFAULT_SPEC_DIR)
                                    for op in spec.operations}
NAMES = OperationNames(list(OPERATIONS.values()))
REFUND = b"The refund policy of ACME: a purchase is refunded within thirty days of its delivery.\n"
PLANTS = b"Tomatoes need six hours of sun a day and a deep watering twice a week.\n"


@dataclass
class Services:
    state: MemoryBackend
    files: FileStore
    ingestion: Ingestion
    workspaces: WorkspaceStore
    v2: Files
    v3: FilesV3


@pytest.fixture
async def services() -> AsyncIterator[Services]:
    settings = Settings(max_upload_mb=0.001)  # 1 KB: room for the test files, not for a large one
    state = MemoryBackend()
    files = FileStore(state, epoch=settings.epoch)
    ingestion = Ingestion(files, settings, 64)
    workspaces = WorkspaceStore.load(state, settings)
    yield Services(state, files, ingestion, workspaces, Files(files, ingestion, workspaces, settings),
                   FilesV3(files, ingestion, workspaces, Retrieval(files, ingestion), settings))
    ingestion.close()
    files.lexical.close()
    await state.close()


def call(operation_id: str, path: str, *, body: Any = None, query: dict[str, Any] | None = None,
         path_params: dict[str, Any] | None = None, upload: tuple[str, bytes] | None = None) -> Call:
    """A parsed, validated call of ``operation_id``, as the pipeline hands it to a handler."""
    operation = OPERATIONS[operation_id]
    scope = {"type": "http", "method": operation.method, "path": path, "raw_path": path.encode(),
             "query_string": b"", "headers": [(b"host", b"testserver")], "scheme": "http",
             "server": ("testserver", 80), "root_path": "", "path_params": path_params or {}}
    uploads = {}
    if upload is not None:
        name, data = upload
        uploads["file"] = UploadFile(io.BytesIO(data), filename=name, headers=Headers({}))
    route = compile_route(operation, _unused_handler, NAMES, Settings())
    return Call(request=Request(scope), route=route, body=body if body is not None else {},
                uploads=uploads, query=query or {}, path_params=path_params or {})


async def _unused_handler(call: Call) -> Response:
    raise AssertionError("the test calls the handler under test directly")


def json_of(response: Response) -> Any:
    return json.loads(bytes(response.body))


async def upload_v2(services: Services, name: str, data: bytes, **body: Any) -> dict[str, Any]:
    response = await services.v2.create(call("api_v2_files_create", "/api/v2/files", body=body,
                                             upload=(name, data)))
    assert response.status_code == 200
    return json_of(response)


async def test_each_resource_lists_the_operations_it_answers(services: Services) -> None:
    assert set(services.v2.handlers()) == {
        "api_v2_files_create", "api_v2_files_list", "api_v2_files_retrieve", "api_v2_files_destroy",
        "api_v2_files_chunks_retrieve"}
    assert set(services.v3.handlers()) == {
        "api_v3_files_create", "api_v3_files_list", "api_v3_files_retrieve", "api_v3_files_destroy",
        "api_v3_files_partial_update", "api_v3_files_tags_create"}
    assert set(services.v2.handlers()) | set(services.v3.handlers()) <= set(OPERATIONS)


async def test_a_v2_upload_is_pending_in_the_personal_workspace_then_embedded(services: Services) -> None:
    created = await upload_v2(services, r"C:\docs\refunds.txt", REFUND, title="Refunds")
    assert created["status"] == "pending"
    assert (created["id"], created["filename"], created["title"]) == (1, "refunds.txt", "Refunds")
    assert created["collection_type"] == "private"
    assert created["workspace_id"] == (await services.workspaces.personal(None)).id
    retrieved = await services.v2.retrieve(call("api_v2_files_retrieve", "/api/v2/files/1",
                                                path_params={"id": 1}, query={"include_content": True}))
    body = json_of(retrieved)
    assert (body["status"], body["total_pages"]) == ("embedded", 1)
    assert body["content"] == REFUND.decode()


async def test_a_v2_upload_names_a_workspace_that_must_exist(services: Services) -> None:
    with pytest.raises(ValidationError) as refused:
        await upload_v2(services, "a.txt", REFUND, collection_type="workspace")
    required = 'This field is required when collection_type is "workspace".'
    assert refused.value.body() == {"workspace_id": [required]}
    with pytest.raises(ValidationError) as unknown:
        await upload_v2(services, "a.txt", REFUND, workspace_id=999)
    assert unknown.value.body() == {"workspace_id": ['Invalid pk "999" - object does not exist.']}
    assert await services.files.all() == []


async def test_an_upload_over_the_limit_names_the_flag(services: Services) -> None:
    with pytest.raises(PayloadTooLarge) as refused:
        await upload_v2(services, "big.txt", b"x" * 2048)
    assert "--max-upload-mb" in json.dumps(refused.value.body())
    assert await services.files.all() == []


async def test_the_v2_list_is_newest_first_and_filters_by_scope(services: Services) -> None:
    await upload_v2(services, "mine.txt", REFUND)
    await upload_v2(services, "company.txt", PLANTS, collection_type="company")
    listed = json_of(await services.v2.list_files(call("api_v2_files_list", "/api/v2/files")))
    assert [f["filename"] for f in listed["data"]] == ["company.txt", "mine.txt"]
    assert (listed["count"], listed["has_more"], listed["next"]) == (2, False, None)
    company = await services.v2.list_files(call("api_v2_files_list", "/api/v2/files",
                                                query={"company_scope": True}))
    assert [f["filename"] for f in json_of(company)["data"]] == ["company.txt"]


async def test_v2_chunks_and_delete(services: Services) -> None:
    await upload_v2(services, "refunds.txt", REFUND)
    chunks = json_of(await services.v2.chunks(call("api_v2_files_chunks_retrieve",
                                                   "/api/v2/files/1/chunks", path_params={"id": 1})))
    assert (chunks["status"], chunks["count"]) == ("embedded", 1)
    assert chunks["chunks"][0]["metadata"] == {"document_id": 1, "pages": [1], "total_pages": 1}
    destroy = call("api_v2_files_destroy", "/api/v2/files/1", path_params={"id": 1})
    deleted = await services.v2.destroy(destroy)
    assert json_of(deleted) == {"id": 1, "object": "file", "deleted": True}
    with pytest.raises(NotFound):
        await services.v2.destroy(call("api_v2_files_destroy", "/api/v2/files/1", path_params={"id": 1}))


async def v3_upload(services: Services, name: str, data: bytes, **body: Any) -> dict[str, Any]:
    response = await services.v3.create(call("api_v3_files_create", "/api/v3/files", body=body,
                                             upload=(name, data)))
    assert response.status_code == 201
    return json_of(response)


async def test_a_v3_upload_with_tags_then_a_patch_and_more_tags(services: Services) -> None:
    workspace = await services.workspaces.company_workspace(None)
    first = await services.workspaces.create_tag("finance", "money", auto_assign=False)
    second = await services.workspaces.create_tag("legal", "law", auto_assign=True)
    assert first is not None and second is not None
    created = await v3_upload(services, "refunds.txt", REFUND, workspace_id=workspace.id, tags=[first.id])
    assert (created["status"], created["message"]) == ("pending", "File queued for processing")
    assert created["tags"] == [{"id": first.id, "name": "finance", "auto_assigned": False}]
    assert created["workspace"]["id"] == workspace.id

    patched = json_of(await services.v3.update(call(
        "api_v3_files_partial_update", "/api/v3/files/1", path_params={"id": 1},
        body={"title": "Refund policy", "external_metadata": {"external_id": "r-1"}})))
    assert patched["title"] == "Refund policy"
    assert patched["external_metadata"] == {"external_id": "r-1", "additional_metadata": {}}
    assert patched["updated_at"] > created["updated_at"]

    tagged = json_of(await services.v3.add_tags(call("api_v3_files_tags_create", "/api/v3/files/1/tags",
                                                     path_params={"file_id": 1},
                                                     body={"tags": [first.id, second.id]})))
    assert [t["id"] for t in tagged["tags"]] == [first.id, second.id]
    assert tagged["message"] == "Added 1 tag(s) to file (duplicates ignored)"


async def test_a_v3_patch_refuses_before_it_stores(services: Services) -> None:
    workspace = await services.workspaces.personal(None)
    await v3_upload(services, "refunds.txt", REFUND, workspace_id=workspace.id)
    before = await services.files.get(1)
    with pytest.raises(ValidationError) as nothing:
        await services.v3.update(call("api_v3_files_partial_update", "/api/v3/files/1", path_params={"id": 1},
                                      body=["not", "an", "object"]))
    assert "No mutable field was given" in json.dumps(nothing.value.body())
    with pytest.raises(ValidationError) as unknown_tag:
        await services.v3.update(call("api_v3_files_partial_update", "/api/v3/files/1", path_params={"id": 1},
                                      body={"title": "New", "tags": [77]}))
    assert unknown_tag.value.body() == {"tags": ['Invalid pk "77" - object does not exist.']}
    assert await services.files.get(1) == before


async def test_the_v3_list_searches_by_relevance_and_filters(services: Services) -> None:
    workspace = await services.workspaces.personal(None)
    await v3_upload(services, "refunds.txt", REFUND, workspace_id=workspace.id)
    await v3_upload(services, "garden.md", PLANTS, workspace_id=workspace.id)
    found = json_of(await services.v3.list_files(call("api_v3_files_list", "/api/v3/files",
                                                      query={"search": "tomatoes watering"})))
    assert [f["filename"] for f in found["results"]] == ["garden.md"]
    by_extension = json_of(await services.v3.list_files(call("api_v3_files_list", "/api/v3/files",
                                                             query={"extension": ".txt"})))
    assert [f["filename"] for f in by_extension["results"]] == ["refunds.txt"]
    with pytest.raises(ValidationError) as bad:
        await services.v3.list_files(call("api_v3_files_list", "/api/v3/files", query={"tag_id": "1,x"}))
    assert "is not a list of ids" in json.dumps(bad.value.body())


async def test_v3_delete_is_a_204_then_a_404(services: Services) -> None:
    workspace = await services.workspaces.personal(None)
    await v3_upload(services, "refunds.txt", REFUND, workspace_id=workspace.id)
    gone = await services.v3.destroy(call("api_v3_files_destroy", "/api/v3/files/1", path_params={"id": 1}))
    assert (gone.status_code, bytes(gone.body)) == (204, b"")
    with pytest.raises(NotFound):
        await services.v3.retrieve(call("api_v3_files_retrieve", "/api/v3/files/1", path_params={"id": 1}))
