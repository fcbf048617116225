"""The one YAML reader (emulator/yaml_reader.py) and the start-up files it reads: a file with a
duplicate key, an alias bomb or the wrong shape stops the emulator with ``file:line: what``."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator.app import create_app
from emulator.config import Settings
from emulator.documents.workspaces import Seed
from emulator.errors import StartupError
from emulator.yaml_reader import MB, YamlError, load_yaml, read_mapping

BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + n)}: &{chr(98 + n)} [*{chr(97 + n)}, *{chr(97 + n)}, *{chr(97 + n)}, *{chr(97 + n)}, "
    f"*{chr(97 + n)}, *{chr(97 + n)}, *{chr(97 + n)}, *{chr(97 + n)}, *{chr(97 + n)}, *{chr(97 + n)}]\n"
    for n in range(8))


@pytest.mark.parametrize(("text", "message"), [
    pytest.param("a: 1\nb: 2\na: 3\n", "doc:3: duplicate key 'a' (first on line 1)", id="duplicate-key"),
    pytest.param("top:\n  x: 1\n  x: 2\n", "doc:3: duplicate key 'x' (first on line 2)",
                 id="nested-duplicate"),
    pytest.param(BOMB, "with its aliases expanded the document is larger than --max-fixture-mb 5",
                 id="alias-bomb"),
    pytest.param("a: [\n", "doc:2: not valid YAML: ", id="syntax"),
])
@pytest.mark.parametrize("libyaml", [False, True], ids=["python", "libyaml"])
def test_load_yaml_refuses_what_yaml_alone_would_take(text: str, message: str, libyaml: bool) -> None:
    with pytest.raises(YamlError) as caught:
        load_yaml(text, "doc", libyaml=libyaml)
    assert message in str(caught.value)
    assert str(caught.value).startswith("doc:")


@pytest.mark.parametrize("libyaml", [False, True], ids=["python", "libyaml"])
def test_a_document_nested_too_deeply_is_refused(libyaml: bool) -> None:
    # The pure-Python parser runs out of stack (our message); libyaml stops at its own depth limit.
    with pytest.raises(YamlError, match=r"^doc:1: .*nest"):
        load_yaml("[" * 5000 + "]" * 5000, "doc", libyaml=libyaml)


def test_load_yaml_keeps_merge_keys_and_shared_aliases() -> None:
    document, node = load_yaml("base: &b {x: 1}\none: {<<: *b, y: 2}\ntwo: *b\n", "doc")
    assert document == {"base": {"x": 1}, "one": {"x": 1, "y": 2}, "two": {"x": 1}}
    assert node is not None and node.start_mark.line == 0


def test_a_document_over_the_limit_names_the_limit() -> None:
    with pytest.raises(YamlError, match=r"^doc:1: the document is larger than 1 MB$"):
        load_yaml("x" * (MB + 1), "doc", MB, limit="")


def test_read_mapping(tmp_path: Path) -> None:
    path = tmp_path / "file.yaml"
    path.write_text("a: 1\n")
    assert read_mapping(path, "a mapping") == {"a": 1}
    path.write_text("")
    assert read_mapping(path, "a mapping") == {}
    path.write_text("# comment only\n\n- one\n")
    with pytest.raises(YamlError, match=rf"^{path}:3: expected a mapping of things$"):
        read_mapping(path, "a mapping of things")
    with pytest.raises(YamlError, match="cannot be read"):
        read_mapping(tmp_path / "missing.yaml", "a mapping")


def test_a_duplicate_key_in_workspaces_yaml_fails_start_up_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "workspaces.yaml"
    path.write_text("workspaces:\n  - id: 1\n    name: One\n    name: Two\n")
    with pytest.raises(ValueError, match=rf"^{path}:4: duplicate key 'name' \(first on line 3\)$"):
        Seed.load(Settings(), paths=(path,))


@pytest.mark.parametrize(("setting", "text", "line"), [
    pytest.param("models", "models:\n  - technical_name: tiny\n    technical_name: tiny2\n", 3, id="models"),
    pytest.param("agents", "company: {name: A}\ncompany: {name: B}\n", 2, id="agents"),
])
def test_a_duplicate_key_in_a_start_up_file_fails_start_up(tmp_path: Path, setting: str, text: str,
                                                           line: int) -> None:
    path = tmp_path / f"{setting}.yaml"
    path.write_text(text)
    with pytest.raises(StartupError, match=rf"^{path}:{line}: duplicate key"):
        create_app(Settings(**{setting: path}))


def test_a_duplicate_key_in_a_spec_fails_start_up(tmp_path: Path) -> None:
    (tmp_path / "api.yaml").write_text("openapi: 3.0.3\npaths: {}\npaths: {}\n")
    with pytest.raises(StartupError, match=rf"^{tmp_path / 'api.yaml'}:3: duplicate key 'paths'"):
        create_app(Settings(spec_dir=tmp_path))
