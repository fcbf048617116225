"""YAML text or files -> Python data, hardened: the one way the emulator reads YAML.

Every YAML the emulator loads (fixture files, the control API's YAML bodies, the OpenAPI specs,
the model catalog, agents and workspaces, the recordings read back) goes through ``load_yaml``,
which refuses what PyYAML alone would accept without a word:

- a document larger than its limit, as written or once its aliases are expanded (a 625-byte
  "billion laughs" YAML whose aliases refer to aliases is a 469 MB document to copy and walk);
- an alias that contains itself;
- a mapping that holds the same key twice (YAML keeps the last one silently);
- a document nested so deeply that building it would exhaust the stack.

Each refusal is a ``YamlError`` whose message starts with ``label:line:``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

MB = 1024 * 1024
MAX_DOCUMENT_BYTES = 5 * MB  # --max-fixture-mb's default, and the limit of a configuration file

# libyaml's parser when PyYAML was built with it: the same documents, ~7x faster on the specs. The
# pure-Python parser stays the default, because the wording of its syntax errors reaches clients.
_FAST_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlError(ValueError):
    """YAML that cannot be used; the message says ``where:line: what``."""


def load_yaml(text: str, label: str, max_bytes: int = MAX_DOCUMENT_BYTES, *, limit: str = "--max-fixture-mb",
              libyaml: bool = False) -> tuple[Any, yaml.Node | None]:
    """YAML (or JSON) text -> (the document, its node tree), within ``max_bytes`` both as written and
    once its aliases are expanded. ``limit`` names the limit in messages (a flag, or "" for a fixed
    size); ``libyaml`` parses with libyaml when it is there."""
    if len(text) > max_bytes // 4 and len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        raise YamlError(f"{label}:1: the document is larger than {_limit(limit, max_bytes)}")
    try:
        loader = (_FAST_LOADER if libyaml else yaml.SafeLoader)(text)
        try:
            node = loader.get_single_node()
            _check_expanded_size(node, label, max_bytes, limit)
            _reject_duplicate_keys(node, label)
            document = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise YamlError(f"{label}:{line}: not valid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise YamlError(f"{label}:1: not valid YAML: {exc}") from None
    except RecursionError:
        raise YamlError(f"{label}:1: the document is nested too deeply") from None
    return document, node


def read_mapping(path: Path, what: str, max_bytes: int = MAX_DOCUMENT_BYTES, *,
                 libyaml: bool = False) -> dict[str, Any]:
    """A YAML file that must hold a mapping -> the mapping (an empty file is an empty one). ``what``
    ends the message when it holds something else: ``path:line: expected <what>``."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise YamlError(f"{path}: cannot be read: {exc}") from None
    document, node = load_yaml(text, str(path), max_bytes, limit="", libyaml=libyaml)
    if document is None:
        return {}
    if not isinstance(document, dict):
        line = node.start_mark.line + 1 if node is not None else 1
        raise YamlError(f"{path}:{line}: expected {what}")
    return document


def _limit(flag: str, max_bytes: int) -> str:
    return f"{flag} {max_bytes / MB:g}" if flag else f"{max_bytes / MB:g} MB"


def _check_expanded_size(root: yaml.Node | None, label: str, max_bytes: int, limit: str) -> None:
    """The size of the document with every alias written out, counted once per node (a walk of the
    node graph, linear in the YAML as written), and no node that contains itself."""
    sizes: dict[int, int] = {}
    open_: set[int] = set()  # nodes whose children are being counted: meeting one again is a cycle
    stack: list[tuple[yaml.Node, bool]] = [(root, False)] if root is not None else []
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if key in sizes:
            continue
        if isinstance(node, yaml.ScalarNode):
            sizes[key] = len(node.value) + 2
            continue
        children = [part for pair in node.value for part in pair] if isinstance(node, yaml.MappingNode) \
            else list(node.value)
        if not children_done:
            if key in open_:
                raise YamlError(f"{label}:{node.start_mark.line + 1}: an alias that contains itself")
            open_.add(key)
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in sizes)
            continue
        open_.discard(key)
        sizes[key] = 2 + sum(sizes[id(child)] for child in children)
        if sizes[key] > max_bytes:
            raise YamlError(f"{label}:{node.start_mark.line + 1}: with its aliases expanded the document "
                            f"is larger than {_limit(limit, max_bytes)}")


def _reject_duplicate_keys(node: yaml.Node | None, label: str) -> None:
    """YAML keeps the last of two equal keys without a word; no file the emulator reads means that."""
    stack = [node] if node is not None else []
    checked: set[int] = set()  # an aliased node is checked once, however often it is referred to
    while stack:
        current = stack.pop()
        if id(current) in checked:
            continue
        checked.add(id(current))
        if isinstance(current, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key, value in current.value:
                if isinstance(key, yaml.ScalarNode) and key.value != "<<":
                    if key.value in seen:
                        raise YamlError(f"{label}:{key.start_mark.line + 1}: duplicate key {key.value!r} "
                                        f"(first on line {seen[key.value]})")
                    seen[key.value] = key.start_mark.line + 1
                stack.append(value)
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)
