"""A schemathesis run of the emulator's own specs against the live server: no 5xx, every answer conforming.

Bounded (15 derandomized examples an operation, a few hundred cases in all) so it stays fast and
gives the same cases every run. Every built-in check runs, ``positive_data_acceptance`` included
(the specs carry the ranges the handlers enforce), plus the suite's own ``Contract`` (which also
checks each SSE chunk against its component schema). A positive case is first made really valid
where a schema cannot say what valid is (``really_valid``): a model that serves the operation,
``best_of >= n``, ``max_tokens`` within the context window, ids of objects that exist, a list a
form can send.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import schemathesis
from contract import KEY, SSE, Contract
from hypothesis import HealthCheck, settings

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
FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
# Lists a form cannot send empty (no field at all is "This field is required.", in DRF too).
NON_EMPTY = {"messages": [{"role": "user", "content": "Hello"}], "input": ["Hello"]}


def really_valid(context, case):
    """A positive case, made valid where its schema cannot tell: what vLLM and the stored objects decide."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or not isinstance(case.body, dict):
        return case
    body = case.body
    if isinstance(body.get("model"), str):
        body["model"] = EMBEDDING_MODEL if case.operation.path.endswith("/embeddings") else CHAT_MODEL
    if isinstance(body.get("max_tokens"), int):
        body["max_tokens"] = min(body["max_tokens"], 64)  # within every model's context window
    if isinstance(body.get("n"), int) and isinstance(body.get("best_of"), int):
        body["best_of"] = max(body["best_of"], body["n"])
    if isinstance(body.get("best_of"), int) and body.get("stream"):
        body["best_of"] = body.get("n") if isinstance(body.get("n"), int) else 1
    if isinstance(body.get("dimensions"), int):
        body["dimensions"] = min(body["dimensions"], 1024)  # the embedding model's size
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
    for name in ("workspace_id", "workspace"):
        if isinstance(body.get(name), int):
            body[name] = 1  # the workspace every emulator starts with
    if isinstance(body.get("workspace_ids"), list):
        body["workspace_ids"] = [1 for _ in body["workspace_ids"]]
    if isinstance(body.get("tags"), list):
        body["tags"] = []  # no tag exists until one is made
    if isinstance(body.get("file_ids"), list):
        del body["file_ids"]  # nor any file (and an id is found only once its upload is)
    return case


def _holds_lists(value) -> bool:
    return isinstance(value, list) and any(isinstance(v, list) for v in value)


def _holds_objects(value) -> bool:
    return isinstance(value, dict) or _holds_lists(value) or (
        isinstance(value, list) and any(isinstance(v, dict) for v in value))


v2.hook("map_case")(really_valid)
v3.hook("map_case")(really_valid)


@pytest.fixture(scope="module")
def keyed_server():
    """Its own server with one accepted key, so that ``ignored_auth`` can see a wrong key refused."""
    with EmulatorServer(Settings(api_keys=(KEY,))) as running:
        yield running


@pytest.fixture(scope="module")
def contract(keyed_server) -> Contract:
    return Contract(keyed_server.emulator)


def conforms(case, server, contract: Contract) -> None:
    response = case.call_and_validate(base_url=server.base_url)
    path = urlsplit(response.request.url).path
    if response.headers.get("content-type", [""])[0].startswith(SSE):
        contract.check_stream(response.request.method, path, response.status_code, response.content)
    elif response.content:
        contract.check_body(response.request.method, path, response.status_code, response.json())


@v2.parametrize()
@BOUNDED
def test_v2_answers_conform_to_the_spec(case, keyed_server, contract):
    conforms(case, keyed_server, contract)


@v3.parametrize()
@BOUNDED
def test_v3_answers_conform_to_the_spec(case, keyed_server, contract):
    conforms(case, keyed_server, contract)
