"""The handle's scripted answers: rules (``on_chat`` ...), fixture dicts, fixture folders, limits.

Each rule is a fixture dict of the control API (``rules.Rule``); it is posted when it is made and
again after every change, so the emulator always holds what the test said so far.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from .calls import ControlCalls
from .rules import Rule, build_match, text_matcher

if TYPE_CHECKING:
    from ..operations import OperationNames


def _brief(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


class _Verbatim:
    """A fixture dict added as it is (``add_fixture``), kept in order among the rules."""

    def __init__(self, fixture: Mapping[str, Any], name: str):
        self.fixture = {**fixture, "name": name}
        self.name = name



_Scripted = TypeVar("_Scripted", "Rule", "_Verbatim")


class Scripting(ControlCalls):
    """The rules and fixture dicts of one test, in the order they were added (matching order)."""

    _scripted: list[Rule | _Verbatim]
    _numbers: itertools.count[int]

    def on(self, operation: str | None = None, *, name: str | None = None, times: int | None = None,
           priority: int | None = None, **conditions: Any) -> Rule:
        """A rule for ``operation`` (a path, an operationId, or chat|completions|embeddings|models;
        None: chat, completions and embeddings). Conditions: contains, regex, last_user_message,
        model, system, any_message, tool_result, tool_call_id, has_tools, headers, body."""
        match = build_match(operation, **conditions)
        shown = [repr(operation)] if operation is not None else []
        name = name or self._name("on", shown, conditions)
        return self._add(Rule(match, name, self._install, times, priority))

    def on_chat(self, contains: str | None = None, *, version: str | None = None, **conditions: Any) -> Rule:
        """A rule for chat completions (v2 and v3, or only ``version``)."""
        return self._on("on_chat", "chat", "/chat/completions", version, contains, conditions)

    def on_completion(
        self, contains: str | None = None, *, version: str | None = None, **conditions: Any
    ) -> Rule:
        """A rule for legacy completions; ``contains`` tests the prompt."""
        return self._on("on_completion", "completions", "/completions", version, contains, conditions)

    def on_embeddings(
        self, contains: str | None = None, *, version: str | None = None, **conditions: Any
    ) -> Rule:
        """A rule for embeddings; ``contains`` tests the input."""
        return self._on("on_embeddings", "embeddings", "/embeddings", version, contains, conditions)

    def on_turn(
        self,
        contains: str | None = None,
        *,
        turn_index: int | None = None,
        agent_id: int | None = None,
        force_tool: Any = None,
        **conditions: Any,
    ) -> Rule:
        """A rule for v3 turns (POST /api/v3/threads/turns and /threads/{id}/turns); ``contains`` and
        the other text conditions test the query. ``turn_index`` (0: a thread's first turn), ``agent_id``
        and ``force_tool`` test the turn."""
        if contains is not None:
            conditions["contains"] = contains
        name = conditions.pop("name", None)
        times, priority = conditions.pop("times", None), conditions.pop("priority", None)
        match = build_match("turn", **conditions)
        for key, value in (("turn_index", turn_index), ("agent_id", agent_id)):
            if value is not None:
                match[key] = value
        if force_tool is not None:
            match["force_tool"] = text_matcher(force_tool, "force_tool")
        shown = {**conditions, "turn_index": turn_index, "agent_id": agent_id, "force_tool": force_tool}
        name = name or self._name("on_turn", [], shown)
        return self._add(Rule(match, name, self._install, times, priority, turn=True))

    def _on(self, method: str, alias: str, path: str, version: str | None, contains: str | None,
            conditions: dict[str, Any]) -> Rule:
        if version is not None and version not in ("v2", "v3"):
            raise ValueError(f"version must be 'v2' or 'v3', not {version!r}")
        operation = f"/api/{version}{path}" if version else alias
        if contains is not None:
            conditions["contains"] = contains
        name = conditions.pop("name", None) or self._name(method, [], {"version": version, **conditions})
        return self.on(operation, name=name, **conditions)

    def _name(self, method: str, shown: list[str], conditions: Mapping[str, Any]) -> str:
        """A name that says what the rule matches, as it shows in the journal: on_chat(contains='x') #1."""
        shown = shown + [f"{key}={_brief(value)}" for key, value in conditions.items()
                         if value is not None and key not in ("times", "priority")]
        return f"{method}({', '.join(shown)}) #{next(self._numbers)}"

    def _add(self, entry: _Scripted) -> _Scripted:
        self._install(entry)  # a fixture the emulator refuses raises here, and is not kept
        self._scripted.append(entry)
        return entry

    def add_fixture(self, fixture: Mapping[str, Any]) -> str:
        """Add a fixture dict of the YAML model as it is; returns its name."""
        return self._add(_Verbatim(fixture, fixture.get("name") or f"fixture #{next(self._numbers)}")).name

    def remove(self, rule: Rule | str) -> None:
        name = rule if isinstance(rule, str) else rule.name
        self._scripted = [s for s in self._scripted if s.name != name]
        response = self._call("DELETE", "/fixtures/" + quote(name, safe=""))
        if response.status_code == 404:
            raise KeyError(name)
        if response.status_code == 409:
            raise PermissionError(response.json().get("detail"))
        self._check(response)

    def load_fixtures(self, path: Any) -> list[str]:
        """Load a folder of fixture files now, until the next reset (a marker or the ini option
        loads them at start-up). The files are read here, so the folder need not be on the
        emulator's machine; a broken one raises FixtureError naming its file and line."""
        from ..scripts.loading import load_dirs

        fixtures = load_dirs([Path(path)], _operations(str(self.server.settings.spec_dir)))
        if not fixtures:
            return []
        return self._post_fixtures([{**f.raw, "name": f.name} for f in fixtures])

    @property
    def rules(self) -> tuple[Rule | _Verbatim, ...]:
        """The rules and fixture dicts this test added, in order."""
        return tuple(self._scripted)

    @property
    def fixtures(self) -> list[dict[str, Any]]:
        """Every fixture the emulator holds: from files, then added at runtime."""
        return self._check(self._call("GET", "/fixtures")).json()["fixtures"]

    def _install(self, changed: Rule | _Verbatim) -> None:
        """Hand the rule's new dict to the emulator; one of the same name is replaced in place, so a
        rule keeps its place in the matching order however long its script grows."""
        self._post_fixtures([changed.fixture])

    def _post_fixtures(self, fixtures: list[Mapping[str, Any]]) -> list[str]:
        response = self._call("POST", "/fixtures", json=list(fixtures))
        if response.status_code == 400:  # refused: the same FixtureError the Python API raised
            from ..scripts.loading import FixtureError

            raise FixtureError(response.json().get("detail", response.text))
        return self._check(response).json()["added"]

    def limit(self, rpm: int | None = None, tpm: int | None = None) -> None:
        """Rate limits (requests, tokens per window) for this test's user; ``limit()`` lifts them.
        The next reset (the next test) lifts them too."""
        self._check(self._call("PUT", "/limits", json={"rpm": rpm, "tpm": tpm}))


@functools.lru_cache(maxsize=4)
def _operations(spec_dir: str) -> OperationNames:
    """The operations fixture files are checked against before they are sent (loaded once)."""
    from ..operations import OperationNames
    from ..spec import load_specs

    return OperationNames([op for spec in load_specs(Path(spec_dir)) for op in spec.operations])
