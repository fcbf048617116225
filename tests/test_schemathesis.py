"""A schemathesis run of the emulator's own specs against the live server: no 5xx, every answer conforming.

Bounded (15 derandomized examples an operation, a few hundred cases in all) so it stays fast and
gives the same cases every run. Every built-in check runs, ``positive_data_acceptance`` included
(the specs carry the ranges the handlers enforce), plus the suite's own ``Contract`` (which also
checks each SSE chunk against its component schema). A positive case is first made really valid
where a schema cannot say what valid is (``really_valid``): a model that serves the operation,
``best_of >= n``, ``max_tokens`` and the messages within the context window, a list a form can
send; then, with the server at hand, it names objects that exist (``existing_objects``: the
directory's agent, company, group and tool, a file, its chunks, an image, a tag, a thread, made
once and again when a case deleted them). Everything else a handler enforces is in the spec.
Derandomized, the same code draws the same cases on every run; an edit of a test function draws
others (hypothesis seeds from the test function).
"""

from __future__ import annotations

import itertools
import json
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import schemathesis
from contract import KEY, SSE, Contract
from hypothesis import HealthCheck, settings
from sample_documents import make_image
from schemathesis.transport.serialization import Binary, contains_binary

from emulator import tokenizer
from emulator.config import DEFAULT_SPEC_DIR, Settings
from emulator.server import EmulatorServer

BOUNDED = settings(
    max_examples=15, derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)
CONFIG = schemathesis.Config.from_dict(
    {
        # Through the spec's own security scheme, so that a case without the key stays without it.
        "auth": {"openapi": {"bearerAuth": {"bearer": KEY}}},
        # DRF ignores query parameters it does not know, as Paradigm does: not a defect to look for.
        "generation": {"allow-extra-parameters": False},
        # Read every stream to its end (n up to 128 choices), so that each chunk and [DONE] can be checked.
        "max-stream-events": 100_000,
    }
)

v2 = schemathesis.openapi.from_path(DEFAULT_SPEC_DIR / "paradigm-v2.yaml", config=CONFIG)
v3 = schemathesis.openapi.from_path(DEFAULT_SPEC_DIR / "paradigm-v3.yaml", config=CONFIG)

EMBEDDING_MODEL, CHAT_MODEL = "multilingual-e5-large", "alfred-4"
PROMPT_BUDGET = 4096  # the prompt tokens a positive case keeps: half alfred-4's context window
FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
# Lists a form cannot send empty (no field at all is "This field is required.", in DRF too).
NON_EMPTY = {"messages": [{"role": "user", "content": "Hello"}], "input": ["Hello"]}
SEED_TEXT = b"The refund policy of ACME: a purchase is refunded within thirty days of its delivery.\n" * 40


class Existing:
    """The objects positive cases name by id, made on the test's server once; a file or a tag that a
    case deleted (DELETE draws small ids too) is made again before the next case names it."""

    def __init__(self, server: EmulatorServer):
        self.http = httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {KEY}"},
                                 timeout=10.0)
        directory = server.emulator.agents
        self.agent: int = directory.default_id
        self.company: int = directory.company["id"]
        self.group: int = next(iter(directory.groups))
        self.tool: str = next(iter(directory.tools))
        self.tool_id: str = directory.tools[self.tool].id
        self.mcp_server: str = next(iter(directory.mcp.seeds))  # the agents file's MCP server
        self._files: dict[str, int] = {}
        self._chunks: dict[int, list[str]] = {}
        self._tag: int | None = None
        self.names = itertools.count(1)
        thread = self._ok(self.http.post("/api/v3/threads", json={"name": "Existing thread"}))
        self.thread_id: str = thread["id"]
        self.thread_name: str = thread["name"]

    @staticmethod
    def _ok(response: httpx.Response) -> Any:
        assert response.status_code in (200, 201), response.text
        return response.json()

    def file(self, name: str) -> int:
        """A text (``notes.txt``) or image (``photo.png``) file that exists and is embedded."""
        known = self._files.get(name)
        if known is not None and self.http.get(f"/api/v2/files/{known}").status_code == 200:
            return known
        data = SEED_TEXT if name.endswith(".txt") else make_image(8, 6)
        created = self._ok(self.http.post("/api/v2/files", files={"file": (name, data)}))
        self._files[name] = created["id"]
        return created["id"]

    def chunk_ids(self) -> list[str]:
        file_id = self.file("notes.txt")
        if file_id not in self._chunks:
            listed = self._ok(self.http.get(f"/api/v2/files/{file_id}/chunks"))
            self._chunks[file_id] = [chunk["uuid"] for chunk in listed["chunks"]]
        return self._chunks[file_id]

    def tag(self) -> int:
        if self._tag is None or self._tag not in {t["id"] for t in self._tags()}:
            self._tag = self._ok(self.http.post("/api/v3/tags", json={"name": f"existing-{next(self.names)}",
                                                                     "description": ""}))["id"]
        return self._tag

    def _tags(self) -> list[dict]:
        listed = self._ok(self.http.get("/api/v3/tags"))
        return listed["results"] if isinstance(listed, dict) else listed

    def unique(self, name: str, longest: int) -> str:
        """A name no earlier case took (tag names are unique in a company)."""
        suffix = f"-{next(self.names)}"
        return name[:longest - len(suffix)] + suffix

    def close(self) -> None:
        self.http.close()


def really_valid(context, case):
    """A positive case, made valid where its schema cannot tell: what vLLM decides, what a form can send."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or not isinstance(case.body, dict):
        return case
    body = case.body
    if isinstance(body.get("model"), str):
        body["model"] = EMBEDDING_MODEL if case.operation.path.endswith("/embeddings") else CHAT_MODEL
    if isinstance(body.get("ml_model"), str):
        body["ml_model"] = CHAT_MODEL  # a v3 turn's or thread's model: one of the catalog's chat models
    max_tokens = body.get("max_tokens")
    # Within every model's context window; an integral float (94802.0) is a JSON Schema integer too.
    if isinstance(max_tokens, (int, float)) and not isinstance(max_tokens, bool) and max_tokens > 64:
        body["max_tokens"] = 64
    if isinstance(body.get("messages"), list):
        _within_context(body)
    if isinstance(body.get("n"), int) and isinstance(body.get("best_of"), int):
        body["best_of"] = max(body["best_of"], body["n"])
    if isinstance(body.get("best_of"), int) and body.get("stream"):
        body["best_of"] = body.get("n") if isinstance(body.get("n"), int) else 1
    if isinstance(body.get("dimensions"), int):
        body["dimensions"] = min(body["dimensions"], 1024)  # the embedding model's size
    for guided in (body, body.get("extra_body")):
        if isinstance(guided, dict) and isinstance(guided.get("guided_json"), str):
            guided["guided_json"] = json.dumps({"type": "object"})  # a text must be a schema's JSON
    if str(case.media_type).startswith(FORMS):
        for name, filled in NON_EMPTY.items():
            if body.get(name) == []:
                body[name] = filled
        for name in [k for k, v in body.items() if v is None]:
            del body[name]  # a form has no null: a nullable field is left out
        nested = _holds_lists if case.media_type.startswith(FORMS[1]) else _holds_objects
        if any(nested(v) for v in body.values()):
            # A form has no objects, nor lists of lists (DRF's neither): JSON carries them, where the
            # operation takes it; else such a value can only be an extra field, which DRF ignores.
            if any(b.media_type == "application/json" for b in case.operation.body):
                case.media_type = "application/json"
            else:
                for name in [k for k, v in body.items() if nested(v)]:
                    del body[name]
    for name in ("file", "icon"):
        if isinstance(body.get(name), Binary) and not body[name].data:
            body[name] = Binary(SEED_TEXT)  # DRF refuses an empty file; no schema of a binary part says so
    _as_generated(case)
    return case


def _as_generated(case) -> None:
    """Take the hooks' edits as the generated body. Schemathesis judges an edited case again, and
    cannot judge a body that holds a file (it calls it invalid): a positive upload the hook kept
    valid would be checked as a negative one."""
    if contains_binary(case.body):
        case._sync_validated_hashes()


def _max_tokens_within_context(case) -> None:
    """``max_tokens`` within every model's context, whatever phase drew the case: the schema bounds it
    below only, so a smaller integer is as valid as the one drawn, and a case that reached the server
    without ``really_valid`` (one phase's cases carry no generation mode) is not judged on vLLM's
    context check."""
    body = case.body
    if isinstance(body, dict):
        value = body.get("max_tokens")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 64:
            body["max_tokens"] = 64
            _as_generated(case)


def existing_objects(case, existing: Existing) -> None:
    """A positive case names objects that exist (which no schema can say), as a user's request would."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return
    if isinstance(case.query, dict):
        _existing_ids(case, case.query, existing)
        if case.operation.method.upper() == "GET" and case.operation.path == "/api/v3/threads":
            _on_the_thread_list(case.query, existing)
    if case.operation.method.upper() == "POST" and case.operation.path == "/api/v3/threads/{id}/turns":
        # a turn, streamed too
        case.path_parameters = {**(case.path_parameters or {}), "id": existing.thread_id}
    body = case.body
    if not isinstance(body, dict):
        return
    _existing_ids(case, body, existing)
    if case.operation.path == "/api/v3/tags" and isinstance(body.get("name"), str):
        body["name"] = existing.unique(body["name"], 255)  # tag names are unique in a company
    metadata = body.get("external_metadata")
    if isinstance(metadata, dict) and not metadata.get("external_id"):
        metadata["external_id"] = "ext-1"  # the first metadata of a file names its external id
    if body.get("collection_type") == "workspace" and "workspace_id" not in body:
        body["workspace_id"] = 1  # a v2 upload to a workspace names it
    if body.get("ownership") == "team" and "group_id" not in body:
        body["group_id"] = existing.group  # a team agent belongs to a group
    if body.get("force_tool") is not None:
        body["force_tool"] = existing.tool  # a tool of the agents file
    if body.get("force_mcp_server") is not None:
        body["force_mcp_server"] = existing.mcp_server  # a server of the agents file
    _as_generated(case)


def _existing_ids(case, values: dict, existing: Existing) -> None:
    """Ids (of a body or a query) replaced by the ids of objects that exist."""
    for name in ("workspace_id", "workspace"):
        if isinstance(values.get(name), int):
            values[name] = 1  # the workspace every emulator starts with
    for name, seed in (
        ("agent_id", existing.agent),
        ("chat_setting_id", existing.agent),
        ("company_id", existing.company),
        ("group_id", existing.group),
    ):
        value = values.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            values[name] = seed
        elif isinstance(value, str) and value.lstrip("-").isdigit():
            values[name] = str(seed)  # a query parameter, as the coverage phase writes it
    if values.get("mcp_server_ids"):
        values["mcp_server_ids"] = [existing.mcp_server] * len(values["mcp_server_ids"])
    if values.get("native_tool_ids"):
        values["native_tool_ids"] = [existing.tool_id] * len(values["native_tool_ids"])
    for name in ("workspace_ids", "scoped_workspace_ids"):
        if isinstance(values.get(name), list):
            values[name] = [1 for _ in values[name]]
    if values.get("tags"):
        values["tags"] = [existing.tag()] * len(values["tags"])
    if values.get("file_ids"):
        values["file_ids"] = [existing.file("notes.txt")] * len(values["file_ids"])
    if values.get("document_ids"):
        name = "photo.png" if case.operation.path.endswith("/image-analysis") else "notes.txt"
        values["document_ids"] = [existing.file(name)] * len(values["document_ids"])
    if isinstance(values.get("chunk_ids"), list):
        chunks = existing.chunk_ids()
        values["chunk_ids"] = [chunks[i % len(chunks)] for i in range(len(values["chunk_ids"]))]


def _on_the_thread_list(query: dict, existing: Existing) -> None:
    """A cursor names a thread of the list it pages: the existing thread, and filters that keep it."""
    if not ({"starting_after", "ending_before"} & set(query)):
        return
    for name in ("starting_after", "ending_before"):
        if name in query:
            query[name] = existing.thread_id
    if "creation_source" in query:
        query["creation_source"] = "api"
    if "search" in query:
        query["search"] = existing.thread_name


def _within_context(body: dict) -> None:
    """Messages within the context window: the last ones dropped, or a short one instead."""
    messages = body["messages"]
    while len(messages) > 1 and tokenizer.count(tokenizer.chat_prompt(messages)) > PROMPT_BUDGET:
        messages.pop()
    if tokenizer.count(tokenizer.chat_prompt(messages)) > PROMPT_BUDGET:
        body["messages"] = list(NON_EMPTY["messages"])


def _holds_lists(value) -> bool:
    return isinstance(value, list) and any(isinstance(v, list) for v in value)


def _holds_objects(value) -> bool:
    return (
        isinstance(value, dict)
        or _holds_lists(value)
        or (isinstance(value, list) and any(isinstance(v, dict) for v in value))
    )


v2.hook("map_case")(really_valid)
v3.hook("map_case")(really_valid)


@pytest.fixture(scope="module")
def keyed_server():
    """Its own server with one accepted key, so that ``ignored_auth`` can see a wrong key refused,
    and the objects the positive cases name."""
    with EmulatorServer(Settings(api_keys=(KEY,))) as running:
        yield running


@pytest.fixture(scope="module")
def existing(keyed_server):
    made = Existing(keyed_server)
    yield made
    made.close()


@pytest.fixture(scope="module")
def contract(keyed_server) -> Contract:
    return Contract(keyed_server.emulator)


def conforms(case, server, contract: Contract, existing: Existing) -> None:
    existing_objects(case, existing)
    _max_tokens_within_context(case)
    response = case.call_and_validate(base_url=server.base_url)
    path = urlsplit(response.request.url).path
    if response.headers.get("content-type", [""])[0].startswith(SSE):
        contract.check_stream(response.request.method, path, response.status_code, response.content)
    elif response.content:
        contract.check_body(response.request.method, path, response.status_code, response.json())


@v2.parametrize()
@BOUNDED
def test_v2_answers_conform_to_the_spec(case, keyed_server, contract, existing):
    conforms(case, keyed_server, contract, existing)


@v3.parametrize()
@BOUNDED
def test_v3_answers_conform_to_the_spec(case, keyed_server, contract, existing):
    conforms(case, keyed_server, contract, existing)
