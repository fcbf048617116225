"""The served specs: valid OpenAPI, every operation handled, and faithful to the Paradigm docs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from openapi_spec_validator import validate

from emulator.app import Emulator
from emulator.config import DEFAULT_SPEC_DIR, Settings
from emulator.spec import SpecError, load_spec, load_specs

SPEC_FILES = sorted(DEFAULT_SPEC_DIR.glob("*.yaml"))
SEEDS = Path(__file__).resolve().parent / "seeds"  # the doc pages the tests read, copied into the repo


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: p.name)
def test_spec_file_is_valid_openapi(path):
    validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def test_every_operation_has_a_handler() -> None:
    operations = [op for spec in load_specs(DEFAULT_SPEC_DIR) for op in spec.operations]
    assert len(operations) > 50  # the two shipped specs were read, not an empty folder
    assert {op.operation_id for op in operations} <= set(Emulator(Settings()).handlers())


def test_operation_ids_are_unique():
    ids = [op.operation_id for spec in load_specs(DEFAULT_SPEC_DIR) for op in spec.operations]
    assert len(ids) == len(set(ids))


def test_every_secured_operation_documents_401() -> None:
    for spec in load_specs(DEFAULT_SPEC_DIR):
        secured = [op for op in spec.operations if op.secured]
        assert secured, f"{spec.source}: no secured operation: the filter would check nothing"
        for op in secured:
            assert "401" in op.response_schemas, op.operation_id


def test_every_operation_with_a_body_documents_its_rejections() -> None:
    for spec in load_specs(DEFAULT_SPEC_DIR):
        with_body = [op for op in spec.operations if op.accepts_body]
        assert with_body, f"{spec.source}: no operation takes a body: the filter would check nothing"
        for op in with_body:
            missing = {"400", "413", "415"} - set(op.response_schemas)
            assert not missing, f"{op.operation_id} does not document {sorted(missing)}"


def test_each_file_has_its_version():
    assert {spec.version for spec in load_specs(DEFAULT_SPEC_DIR)} == {"v2", "v3"}


def _doc_operations(seed: Path):
    """The OpenAPI fragment a Paradigm doc page embeds (```yaml /api-reference/openapi-vN.yaml post /path)."""
    text = seed.read_text(encoding="utf-8")
    match = re.search(r"````yaml /api-reference/\S+ (\w+) (\S+)\n(.*?)````", text, re.S)
    assert match, f"{seed.name}: no embedded spec"
    return match[1].upper(), match[2], yaml.safe_load(match[3])


def test_the_seed_pages_the_tests_read_are_in_the_repo():
    # An empty glob would make the test below vanish (an empty parameter set), not fail.
    assert [p.name[:3] for p in sorted(SEEDS.glob("00[23]_*.txt"))] == ["002", "003"]


@pytest.mark.parametrize("seed", sorted(SEEDS.glob("00[23]_*.txt")), ids=lambda p: p.name[:3])
def test_spec_keeps_every_field_of_the_documented_operation(seed):
    method, path, document = _doc_operations(seed)
    documented = document["paths"][path][method.lower()]
    ours = next(
        op
        for spec in load_specs(DEFAULT_SPEC_DIR)
        for op in spec.operations
        if op.method == method and op.path == path
    )
    assert ours.operation_id == documented["operationId"]
    schema_name = documented["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    theirs = document["components"]["schemas"][schema_name]
    request = ours.request_schemas["application/json"]
    assert set(theirs["properties"]) <= set(request["properties"])
    assert set(theirs.get("required", [])) == set(request.get("required", []))
    assert set(documented["requestBody"]["content"]) <= set(ours.request_schemas)


def test_nullable_becomes_json_schema():
    ops = {op.operation_id: op for spec in load_specs(DEFAULT_SPEC_DIR) for op in spec.operations}
    logprobs = ops["api_v2_completions_create"].request_schemas["application/json"]["properties"]["logprobs"]
    assert logprobs["type"] == ["integer", "null"]


@pytest.mark.parametrize(
    "text, message",
    [
        pytest.param("not: [openapi", "", id="broken-yaml"),
        pytest.param("openapi: 3.0.3\n", "not an OpenAPI document (no 'paths')", id="no-paths"),
        pytest.param(
            "openapi: 3.0.3\npaths:\n  /api/v2/x:\n    get:\n      responses: {}\n",
            "no operationId",
            id="no-operation-id",
        ),
        pytest.param(
            "openapi: 3.0.3\npaths:\n  /api/v2/x:\n    get:\n      operationId: x\n      responses:\n"
            "        '200':\n          description: ''\n          content:\n            application/json:\n"
            "              schema: {$ref: '#/components/schemas/Missing'}\n",
            "$ref '#/components/schemas/Missing' points nowhere",
            id="dangling-ref",
        ),
        pytest.param(
            "openapi: 3.0.3\npaths:\n  /health:\n    get:\n      operationId: x\n",
            "no /api/<version>/ path",
            id="no-version",
        ),
    ],
)
def test_a_broken_spec_is_refused_with_its_place(tmp_path, text, message):
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as raised:
        load_spec(path)
    assert str(raised.value).startswith(str(path)) and message in str(raised.value)
