"""Operation names as users write them -> the operations they mean: one table, used everywhere.

A fixture's ``match.operation``, the journal's ``?operation=`` filter and the plugin's
``assert_called`` all accept the same names::

    "chat", "completions", "embeddings", "models", "files", "tokenize"   aliases, any API version
    "turn"                                  the v3 turn creations (POST .../turns: both of them)
    "/api/v2/chat/completions"              an exact path
    "/chat/completions", "files/{id}"       a path after /api/v2 or /api/v3 (either version)
    "api_v2_chat_completions_create"        an operationId
    "POST /files", "DELETE files"           any of the above after a method: only that method

``names_match`` decides one name against one operation (or one journal entry: the same
fields); ``OperationNames`` resolves a name against the served operations, once per name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .errors import ParseError
from .spec import Operation

ALIASES = {"chat": "/chat/completions", "completions": "/completions", "embeddings": "/embeddings",
           "models": "/models", "files": "/files", "tokenize": "/tokenize"}
TURN = "turn"  # not one path: POST /api/v3/threads/turns and POST /api/v3/threads/{id}/turns
# The model calls: what a fixture without `operation` applies to, what the memo keeps, what gets the
# model server's (vLLM's) error bodies. ``OperationNames.answering`` is this, resolved: the one definition.
ANSWERING = ("chat", "completions", "embeddings")
_VERSIONED = re.compile(r"^/api/v\d+(/.*)$")
KNOWN = ", ".join([*ALIASES, TURN]) + " (or a path such as /api/v2/chat/completions, or an operationId)"


def names_match(name: str, method: str, path: str, operation_id: str) -> bool:
    """Whether ``name`` (see the module docstring) names this operation (or a request to it:
    ``path`` may be a spec path or the path a request went to)."""
    verb, _, rest = name.partition(" ")
    if rest and verb.isupper():  # "POST /files": the method too
        return method == verb and names_match(rest.strip(), method, path, operation_id)
    if name.startswith(("http://", "https://")):
        name = "/" + name.split("://", 1)[1].partition("/")[2]
    if name.startswith("/"):
        target = name.rstrip("/") or "/"
        unversioned = _VERSIONED.match(path)
        return path.rstrip("/") == target or (
            unversioned is not None and unversioned.group(1).rstrip("/") == target)
    if name == operation_id:
        return True
    if name == TURN:  # the turn creations only: a poll of GET .../turns is not a turn
        return method == "POST" and path.rstrip("/").endswith("/turns")
    return names_match(ALIASES.get(name, "/" + name), method, path, operation_id)


class OperationNames:
    """The served operations, by the names users give them (each name resolved once, then cached)."""

    def __init__(self, operations: Iterable[Operation]):
        self.operations = list(operations)
        self._resolved: dict[str, frozenset[str]] = {}
        self.answering = frozenset(i for alias in ANSWERING for i in self.resolve(alias) or ())
        # A turn's fixture conditions read what only its handler drafts (the turn's index, the agent):
        # those operations are matched late, by the delivery step, once the handler has drafted.
        self.matched_late = self.resolve(TURN) or frozenset()

    def resolve(self, name: str) -> frozenset[str] | None:
        """-> the operationIds ``name`` names, or None when it names none of the served operations."""
        found = self._resolved.get(name)
        if found is None:
            found = frozenset(op.operation_id for op in self.operations
                              if names_match(name, op.method, op.path, op.operation_id))
            if len(self._resolved) < 4096:  # names come from users: a bounded cache
                self._resolved[name] = found
        return found or None

    def resolve_or_400(self, name: str) -> frozenset[str]:
        """For a query parameter: an unknown name is a 400 that lists the names that work."""
        found = self.resolve(name)
        if found is None:
            raise ParseError(f"Unknown operation {name!r}; use one of {KNOWN}.")
        return found

    def known(self) -> str:
        return KNOWN
