"""The Rust check a fixture passes before jsonschema: it never lets through what jsonschema refuses.

Each runtime fixture (every rule a test scripts through the plugin) is checked against the fixture
schema; the Rust validator says yes in about a microsecond, and jsonschema, which words the errors,
runs only when it does not. So a document the Rust validator accepts must be one jsonschema accepts
too: the shipped examples, documents broken in each way the schema knows, and Python values that JSON
does not have (which are left to jsonschema).
"""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
import yaml

from emulator.config import DEFAULT_FIXTURES_DIR
from emulator.scripts.loading import _VALIDATOR, FixtureError, _surely_valid, compile_fixture

SHIPPED = sorted((DEFAULT_FIXTURES_DIR / "examples").glob("*.yaml")) + [
    Path(__file__).parent / "examples" / "fixtures" / "support.yaml"
]


def _shipped() -> list[dict]:
    found = []
    for path in SHIPPED:
        found += yaml.safe_load(path.read_text())["fixtures"]
    return found


def _base(**response: object) -> dict:
    return {"name": "n", "match": {"operation": "chat"}, "response": dict(response)}


BROKEN = {
    "unknown key": {**_base(content="a"), "colour": "red"},
    "unknown match key": {"name": "n", "match": {"colour": "red"}, "response": {}},
    "times zero": {**_base(content="a"), "times": 0},
    "times a bool": {**_base(content="a"), "times": True},
    "priority a string": {**_base(content="a"), "priority": "high"},
    "content a number": _base(content=3),
    "chunks a string": _base(chunks="abc"),
    "delay a bool": _base(delay_ms=True),
    "delay infinite": _base(delay_ms=float("inf")),
    "error status 200": _base(error={"status": 200}),
    "tool call without name": _base(tool_calls=[{"arguments": {}}]),
    "response and responses": {**_base(content="a"), "responses": [{}]},
    "name not a string": {"name": 3, "match": {}, "response": {}},
    "a header a mapping": _base(content="a", headers={"x": {"y": {"z": [[[[[[1]]]]]]}}}),
}
NOT_JSON = {
    "tuple of chunks": _base(chunks=("a", "b")),  # the Rust validator takes tuples as arrays
    "a date": _base(content=datetime.date(2024, 1, 1)),
    "a set": _base(chunks={"a"}),
    "bytes": _base(content=b"x"),
    "a key that is not a string": _base(content="a", headers={1: "x"}),
}


def _jsonschema_accepts(document: object) -> bool:
    return not list(_VALIDATOR.iter_errors(document))


@pytest.mark.parametrize("document", _shipped(), ids=lambda d: str(d.get("name")))
def test_every_shipped_fixture_passes_the_fast_check(document):
    assert _jsonschema_accepts(document)
    assert _surely_valid(document)


@pytest.mark.parametrize("document", list(BROKEN.values()), ids=list(BROKEN))
def test_what_jsonschema_refuses_the_fast_check_refuses(document):
    assert not _jsonschema_accepts(document)
    assert not _surely_valid(document)


@pytest.mark.parametrize("document", list(NOT_JSON.values()), ids=list(NOT_JSON))
def test_values_json_does_not_have_are_left_to_jsonschema(document):
    assert not _surely_valid(document)


def test_a_tuple_is_still_refused_with_jsonschema_words():
    with pytest.raises(FixtureError, match="chunks"):
        compile_fixture(_base(chunks=("a", "b")), "n", _operations())


def test_a_document_that_contains_itself_is_left_to_jsonschema():
    looped: dict = {"name": "n", "match": {}, "response": {}}
    looped["response"]["headers"] = looped
    assert not _surely_valid(looped)


def _operations():
    from emulator.app import create_app
    from emulator.config import Settings
    from emulator.operations import OperationNames

    return OperationNames(create_app(Settings()).state.emulator.operations)
