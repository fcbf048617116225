"""Fixture files and dicts -> compiled ``Fixture`` objects.

A fixture is ``{name, priority, times, match, response | responses}`` (docs/fixtures.md has the
whole format). Everything that can be wrong with one is found here, when it is loaded: the
structure is checked against ``FIXTURE_SCHEMA``, then regexes, JSON paths, templates and
operation names are compiled (``matching``). A problem is reported as ``file:line: fixture 'x':
match.model: what is wrong`` (lines come from the YAML node tree), and a directory is loaded
all or nothing. A ``Fixture`` counts its uses, which is what ``times`` and ``responses`` follow.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft7Validator

from .fixture_schema import FIXTURE_SCHEMA, RESPONSE_KEYS, explain
from .matching import Check, OperationIndex, Problem, RequestView, check_templates, compile_conditions

SUFFIXES = (".yaml", ".yml", ".json")
_VALIDATOR = Draft7Validator(FIXTURE_SCHEMA)


class FixtureError(ValueError):
    """A fixture (file or dict) that cannot be loaded; the message says where and what."""


# ---------------------------------------------------------------------------------------------
# Where a fixture came from: lines in a YAML document


class Locator:
    """Finds the line of a value inside a parsed YAML document (``None`` for dicts given at runtime)."""

    def __init__(self, label: str | None = None, root: yaml.Node | None = None):
        self.label, self.root = label, root

    def where(self, path: Iterable[Any]) -> str | None:
        if self.label is None:
            return None
        node, line = self.root, 1
        for step in path:
            if node is None:
                break
            line = node.start_mark.line + 1
            node = _child(node, step)
        if node is not None:
            line = node.start_mark.line + 1
        return f"{self.label}:{line}"


def _child(node: yaml.Node, step: Any) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(step):
                return value
    elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and 0 <= step < len(node.value):
        return node.value[step]
    return None


def parse_document(text: str, label: str) -> tuple[list[Any], Locator, tuple]:
    """YAML (or JSON) text -> (fixture dicts, locator, path prefix of the list in the document)."""
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            _reject_duplicate_keys(node, label)
            document = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise FixtureError(f"{label}:{line}: not valid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise FixtureError(f"{label}:1: not valid YAML: {exc}") from None
    locator = Locator(label, node)
    if document is None:
        return [], locator, ()
    if isinstance(document, list):
        return document, locator, ()
    if isinstance(document, dict) and set(document) <= {"fixtures"} and "fixtures" in document:
        fixtures = document["fixtures"]
        if fixtures is None:
            return [], locator, ("fixtures",)
        if isinstance(fixtures, list):
            return fixtures, locator, ("fixtures",)
        raise FixtureError(f"{locator.where(['fixtures'])}: `fixtures:` must be a list of fixtures")
    extra = sorted(set(document) - {"fixtures"}) if isinstance(document, dict) else []
    plural = "s" if len(extra) > 1 else ""
    hint = f" (unknown top-level key{plural} {', '.join(map(repr, extra))})" if extra else ""
    raise FixtureError(f"{label}:1: expected a `fixtures:` list (or a bare list of fixtures){hint}")


def _reject_duplicate_keys(node: yaml.Node | None, label: str) -> None:
    """YAML keeps the last of two equal keys without a word; a fixture file never means that."""
    stack = [node] if node is not None else []
    while stack:
        current = stack.pop()
        if isinstance(current, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key, value in current.value:
                if isinstance(key, yaml.ScalarNode) and key.value != "<<":
                    if key.value in seen:
                        raise FixtureError(f"{label}:{key.start_mark.line + 1}: duplicate key {key.value!r} "
                                           f"(first on line {seen[key.value]})")
                    seen[key.value] = key.start_mark.line + 1
                stack.append(value)
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)


def fixture_files(root: Path) -> list[Path]:
    """Every fixture file under ``root``, sorted by path (the load order); dot-files are skipped."""
    if not root.is_dir():
        raise FixtureError(f"{root}: the fixtures directory does not exist")
    return sorted(p for p in root.rglob("*") if p.suffix in SUFFIXES and p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(root).parts))


def signature(roots: Iterable[Path]) -> tuple:
    """What changes when a fixture file is added, removed or edited (cheap: one stat per file)."""
    result = []
    for root in roots:
        try:
            for path in fixture_files(root):
                stat = path.stat()
                result.append((str(path), stat.st_mtime_ns, stat.st_size))
        except (FixtureError, OSError):
            result.append((str(root), None, None))
    return tuple(result)


def load_dirs(roots: Iterable[Path], operations: OperationIndex) -> list[Fixture]:
    """Every fixture of every file under the roots, or a FixtureError naming every broken one."""
    fixtures: list[Fixture] = []
    problems: list[str] = []
    for root in roots:
        try:
            paths = fixture_files(root)
        except FixtureError as exc:
            problems.append(str(exc))
            continue
        for path in paths:
            label = str(path)
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                problems.append(f"{label}:1: cannot read: {exc}")
                continue
            name = path.relative_to(root).as_posix()
            try:
                fixtures.extend(compile_document(text, label, name, operations))
            except FixtureError as exc:
                problems.append(str(exc))
    if problems:
        raise FixtureError("\n".join(problems))
    check_unique_names(fixtures)
    return fixtures


def compile_document(text: str, label: str, name: str, operations: OperationIndex) -> list[Fixture]:
    raws, locator, prefix = parse_document(text, label)
    problems: list[str] = []
    fixtures = []
    for index, raw in enumerate(raws):
        try:
            fixtures.append(compile_fixture(raw, f"{name}:{index}", operations, locator, (*prefix, index)))
        except FixtureError as exc:
            problems.append(str(exc))
    if problems:
        raise FixtureError("\n".join(problems))
    return fixtures


def check_unique_names(fixtures: list[Fixture]) -> None:
    seen: dict[str, Fixture] = {}
    for fixture in fixtures:
        first = seen.setdefault(fixture.name, fixture)
        if first is not fixture:
            raise FixtureError(f"{fixture.source}: duplicate fixture name {fixture.name!r} "
                               f"(also at {first.source})")


# ---------------------------------------------------------------------------------------------
# The fixture


class Fixture:
    """A compiled fixture. ``uses`` counts the calls it answered (what `times` and `responses` follow)."""

    def __init__(self, name: str, priority: int, times: int | None, operation_ids: frozenset[str] | None,
                 checks: list[Check], needles: tuple[bytes, ...], responses: list[dict[str, Any]],
                 raw: dict[str, Any], source: str):
        self.name, self.priority, self.times = name, priority, times
        self.operation_ids, self.checks, self.responses = operation_ids, checks, responses
        self.needles = needles  # texts a raw JSON body must contain for it to match (matching.Prefilter)
        self.raw, self.source = raw, source
        self.uses = 0
        self._lock = threading.Lock()

    def applies_to(self, operation_id: str, answering: frozenset[str]) -> bool:
        return operation_id in (self.operation_ids if self.operation_ids is not None else answering)

    def first_failure(self, view: RequestView) -> str | None:
        for check in self.checks:
            reason = check(view)
            if reason is not None:
                return reason
        return None

    def failures(self, view: RequestView, answering: frozenset[str]) -> list[str]:
        """Every condition that does not hold (for the near-miss report of strict mode)."""
        found = []
        if not self.applies_to(view.operation_id, answering):
            found.append(f"operation: the request is {view.operation_id}")
        if self.exhausted:
            found.append(f"used up: it answered {self.uses} call(s) already (times: {self.times})")
        return found + [reason for reason in (check(view) for check in self.checks) if reason is not None]

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.uses >= self.times

    def claim(self) -> tuple[int, dict[str, Any]] | None:
        """Take the next use: (its number from 1, the response for it), or None when `times` is used
        up. Atomic, so concurrent calls never share a use."""
        with self._lock:
            if self.times is not None and self.uses >= self.times:
                return None
            self.uses += 1
            return self.uses, self.responses[min(self.uses - 1, len(self.responses) - 1)]

    def reset(self) -> None:
        with self._lock:
            self.uses = 0

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, "priority": self.priority, "times": self.times,
                "uses": self.uses,
                **{k: v for k, v in self.raw.items() if k not in ("name", "priority", "times")}}


def compile_fixture(raw: Any, default_name: str, operations: OperationIndex, locator: Locator | None = None,
                    path: tuple = ()) -> Fixture:
    """A fixture dict -> Fixture, or a FixtureError naming the line (files) and the key that is wrong."""
    locator = locator or Locator()
    name = raw.get("name") if isinstance(raw, dict) and isinstance(raw.get("name"), str) else None
    who = f"fixture {name!r}" if name else f"fixture #{path[-1] if path else 0} ({default_name})"

    def fail(at: Iterable[Any], message: str) -> FixtureError:
        steps = list(at)
        where = locator.where([*path, *steps])
        key = ".".join(str(s) for s in steps)
        text = f"{who}: {key + ': ' if key else ''}{message}"
        return FixtureError(f"{where}: {text}" if where else text)

    errors = list(_VALIDATOR.iter_errors(raw))
    if errors:
        problems = [fail(e.absolute_path, explain(e)) for e in _dedupe(errors)]
        raise FixtureError("\n".join(str(p) for p in problems[:10]))
    try:
        operation_ids, checks, needles = compile_conditions(raw.get("match") or {}, operations)
        responses = raw["responses"] if "responses" in raw else [raw.get("response") or {}]
        for number, response in enumerate(responses):
            at = f"responses.{number}" if "responses" in raw else "response"
            _check_response(response, at)
    except Problem as problem:
        raise fail(problem.at.split("."), problem.message) from None
    return Fixture(name or default_name, raw.get("priority", 0), raw.get("times"), operation_ids, checks,
                   needles,
                   responses, raw, locator.where(path) or "runtime")


def _dedupe(errors: list[Any]) -> list[Any]:
    """Errors in document order, each location and message once."""
    seen, kept = set(), []
    for error in sorted(errors, key=lambda e: [str(p) for p in e.absolute_path]):
        key = (tuple(error.absolute_path), error.validator)
        if key not in seen:
            seen.add(key)
            kept.append(error)
    return kept


def _check_response(response: dict[str, Any], at: str) -> None:
    for key in ("content",):
        if key in response:
            check_templates(response[key], f"{at}.{key}")
    for number, chunk in enumerate(response.get("chunks") or ()):
        check_templates(chunk, f"{at}.chunks.{number}")
    for number, call in enumerate(response.get("tool_calls") or ()):
        arguments = call.get("arguments")
        if isinstance(arguments, str):
            check_templates(arguments, f"{at}.tool_calls.{number}.arguments")
    stream = response.get("stream")
    if stream is not None:
        kinds = [k for k in ("truncate_after", "error_after", "drop_after") if k in stream]
        if len(kinds) != 1:
            raise Problem(f"{at}.stream", "give exactly one of truncate_after, error_after or drop_after, "
                                           f"got {', '.join(kinds) or 'none'}")
        if "error" in stream and kinds != ["error_after"]:
            raise Problem(f"{at}.stream.error", "an error body goes with error_after only")
    unknown = set(response) - RESPONSE_KEYS
    if unknown:  # the schema already refuses them; kept for dicts built in Python
        raise Problem(at, f"unknown key(s) {', '.join(sorted(unknown))}")
