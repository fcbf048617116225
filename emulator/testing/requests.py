"""What the application sent, as a test reads it: immutable ``Request`` objects and assertions on them.

The journal (``journal.Entry``) is the server's record; this module is the test's view of it.
A ``Request`` carries its own copy of the body, so a test that pokes at ``.json`` cannot change
what the next assertion sees. ``RequestLog.assert_called`` fails with the requests it *did*
see that come closest: same operation first (with the body fields that differ), then the rest.

A target names which requests count, with the names a fixture's ``match.operation`` and the
journal's ``?operation=`` take (``emulator/operations.py``): ``"chat"``, ``"embeddings"``, ``"turn"``,
a path (``"/chat/completions"``: either version), an operationId, ``"POST /files"``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..operations import names_match
from ..tokenizer import last_user_message

_SHOWN = 10  # requests listed in a failure message, per group


class Headers(Mapping[str, str]):
    """Read-only request headers; names are case-insensitive, as in HTTP."""

    def __init__(self, items: Mapping[str, str]):
        self._items = {name.lower(): value for name, value in items.items()}

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


@dataclass(frozen=True, eq=False)
class Request:
    """One request the emulator answered. ``json`` is the parsed body (form and multipart bodies
    too, uploads shown as ``"<file name>"``); the Authorization header is not kept."""

    number: int  # 1 for the first request of the test
    seq: int  # the journal's sequence number (as GET /_emulator/journal shows it)
    method: str
    path: str
    operation_id: str
    query: Mapping[str, Any]
    headers: Headers
    json: Any
    status: int
    outcome: str  # how the body ended: complete, truncated (a stream fault) or dropped
    fixture: str | None  # the fixture that answered, None when the generator did
    duration_ms: float  # until the body ended (or the client went away)

    @classmethod
    def from_entry(cls, entry: Any, number: int) -> Request:
        return cls(
            number=number,
            seq=entry.seq,
            method=entry.method,
            path=entry.path,
            operation_id=entry.operation_id,
            query=dict(entry.query),
            headers=Headers(entry.headers),
            json=copy.deepcopy(entry.body),
            status=entry.status,
            outcome=entry.outcome,
            fixture=entry.fixture,
            duration_ms=entry.duration_ms,
        )

    @property
    def version(self) -> str | None:
        """"v2" or "v3" (None for a path outside /api/vN)."""
        parts = self.path.split("/")
        return parts[2] if len(parts) > 2 and parts[1] == "api" else None

    @property
    def model(self) -> Any:
        return self.json.get("model") if isinstance(self.json, dict) else None

    @property
    def messages(self) -> list[dict[str, Any]]:
        messages = self.json.get("messages") if isinstance(self.json, dict) else None
        return messages if isinstance(messages, list) else []

    @property
    def last_user_message(self) -> str | None:
        """The text of the last user message (chat), or the last prompt/input (completions, embeddings):
        the same text a fixture's ``last_user_message`` reads."""
        return last_user_message(self.json)

    def is_to(self, target: str) -> bool:
        """Whether this request went to ``target`` (see the module docstring)."""
        return names_match(target, self.method, self.path, self.operation_id)

    def describe(self) -> str:
        where = f"#{self.number} {self.method} {self.path} -> {self.status}"
        said = self.last_user_message
        return where + (f" (last user message {_short(said)})" if said is not None else "")

    def __repr__(self) -> str:
        return f"<Request {self.describe()}>"


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 4] + "...'"


def differences(actual: Any, expected: Any, where: str = "") -> list[str]:
    """How ``actual`` fails to contain ``expected``: a dict is compared key by key (extra keys in
    ``actual`` are fine), anything else by equality."""
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping):
            wanted = _short(dict(expected))
            return [f"{where or 'body'} is {_short(actual)}, expected a mapping containing {wanted}"]
        found = []
        for key, value in expected.items():
            path = f"{where}.{key}" if where else str(key)
            if key not in actual:
                found.append(f"{path} is missing, expected {_short(value)}")
            else:
                found.extend(differences(actual[key], value, path))
        return found
    if actual != expected:
        return [f"{where or 'body'} is {_short(actual)}, expected {_short(expected)}"]
    return []


class RequestLog:
    """The requests one test made, read fresh from the journal at every access."""

    def __init__(self, entries: Callable[[], Iterable[Any]]):
        self._entries = entries
        self._seen: dict[int, Request] = {}

    @property
    def all(self) -> tuple[Request, ...]:
        requests = []
        for number, entry in enumerate(self._entries(), 1):
            request = self._seen.get(entry.seq)
            if request is None:
                request = self._seen[entry.seq] = Request.from_entry(entry, number)
            requests.append(request)
        return tuple(requests)

    def forget(self) -> None:
        self._seen.clear()

    def filter(self, target: str | None = None, body: Mapping[str, Any] | None = None) -> tuple[Request, ...]:
        return tuple(r for r in self.all if (target is None or r.is_to(target))
                     and not (body and differences(r.json, body)))

    def assert_called(self, target: str | None = None, times: int | None = 1,
                      body: Mapping[str, Any] | None = None) -> tuple[Request, ...]:
        """Exactly ``times`` requests to ``target`` whose body contains ``body`` (``times=None``: at
        least one); returns them. On failure, the message lists the closest requests seen."""
        __tracebackhide__ = True
        if times is not None and (not isinstance(times, int) or isinstance(times, bool) or times < 0):
            raise TypeError(f"times must be a whole number >= 0 or None (at least once), not {times!r}")
        seen = self.all
        matching = tuple(r for r in seen if (target is None or r.is_to(target))
                         and not (body and differences(r.json, body)))
        if (len(matching) == times) if times is not None else matching:
            return matching
        raise AssertionError(self._explain(seen, matching, target, times, body))

    def _explain(self, seen: tuple[Request, ...], matching: tuple[Request, ...], target: str | None,
                 times: int | None, body: Mapping[str, Any] | None) -> str:
        wanted = "at least 1 request" if times is None else f"{times} request{'s' if times != 1 else ''}"
        what = f" to {target!r}" if target is not None else ""
        if body:
            what += " with " + ", ".join(f"{k}={_short(v)}" for k, v in body.items())
        lines = [f"expected {wanted}{what}, but {len(matching)} matched ({len(seen)} seen in this test)."]
        if matching:
            lines.append("Matching requests:")
            lines.extend(f"  {r.describe()}" for r in matching[:_SHOWN])
        matched = {r.seq for r in matching}
        same_target = [r for r in seen if r.seq not in matched and (target is None or r.is_to(target))]
        if same_target:
            lines.append(
                f"Requests to {target!r} whose body differs:" if target else "Requests whose body differs:"
            )
            for r in same_target[:_SHOWN]:
                lines.append(f"  {r.describe()}: " + "; ".join(differences(r.json, body or {})))
        others = [r for r in seen if r.seq not in matched and not (target is None or r.is_to(target))]
        if others:
            lines.append("Other requests seen:")
            lines.extend(f"  {r.describe()}" for r in others[:_SHOWN])
        hidden = (
            max(0, len(matching) - _SHOWN) + max(0, len(same_target) - _SHOWN) + max(0, len(others) - _SHOWN)
        )
        if hidden:
            lines.append(f"  ... and {hidden} more")
        if not seen:
            lines.append("No request reached the emulator: is the code under test using its URL "
                         "(paradigm_emulator.base_url, or PARADIGM_BASE_URL)?")
        return "\n".join(lines)
