"""The drift report: every recorded request sent again, and where the answers' shapes now differ.

``run(folder, target)`` reads a recording (a fixture folder: a broken file is a ``FixtureError`` with
its ``file:line``), sends its requests in the order they were recorded to ``target`` (a base URL),
and compares each answer's shape with the recorded one (``shapes``). Ids are carried over: where a
recorded answer had an id and the live answer another, later requests that named the recorded id
name the live one (an upload recorded as file 12 is file 1 on a fresh emulator).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from .exchange import Json, event_bytes, is_recording
from .shapes import Difference, compare_answers


@dataclass
class Recorded:
    seq: int
    fixture: str
    request: dict[str, Any]
    raw: dict[str, Any]

    @property
    def operation(self) -> str:
        return f"{self.request['method']} {self.request['path']}"

    def body_bytes(self) -> bytes:
        raw = self.raw
        if "events" in raw:
            return b"".join(event_bytes(e) for e in raw["events"])
        if "body_base64" in raw:
            return base64.b64decode(raw["body_base64"])
        return str(raw.get("body", "")).encode("utf-8")


@dataclass
class Finding:
    exchange: Recorded
    difference: Difference

    def to_dict(self) -> dict[str, Any]:
        d = self.difference
        return {
            "operation": self.exchange.operation,
            "fixture": self.exchange.fixture,
            "seq": self.exchange.seq,
            "kind": d.kind,
            "at": d.at,
            "recorded": d.recorded,
            "live": d.live,
        }

    def line(self) -> str:
        d = self.difference
        where = f" {d.at}" if d.at else ""
        return (f"{self.exchange.operation}{where}: {d.kind}: recorded {d.recorded}, now {d.live} "
                f"[{self.exchange.fixture}]")


@dataclass
class Report:
    target: str
    exchanges: int = 0
    findings: list[Finding] = field(default_factory=list)

    def ordered(self) -> list[Finding]:
        return sorted(self.findings, key=lambda f: (f.difference.severity, f.exchange.seq, f.difference.at))

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "exchanges": self.exchanges,
            "differences": [f.to_dict() for f in self.ordered()],
        }


def load_recording(folder: Path) -> list[Recorded]:
    """The recorded exchanges of a folder, in recording order (a broken file: FixtureError, file:line)."""
    from ..config import DEFAULT_SPEC_DIR
    from ..operations import OperationNames
    from ..scripts.loading import load_dirs
    from ..spec import load_specs

    operations = OperationNames(op for spec in load_specs(DEFAULT_SPEC_DIR) for op in spec.operations)
    exchanges = []
    for fixture in load_dirs([folder], operations):
        if not is_recording(fixture.raw):
            continue
        for response in fixture.responses:
            if "raw" in response:
                seq = int(response["raw"].get("seq") or 0)
                exchanges.append(
                    Recorded(seq, fixture.name, fixture.raw["match"]["request"], response["raw"])
                )
    return sorted(exchanges, key=lambda e: e.seq)


def run(folder: Path, target: str, key: str = "drift-key", timeout: float = 60.0) -> Report:
    exchanges = load_recording(folder)
    report = Report(target, len(exchanges))
    ids: dict[str, Json] = {}
    with httpx.Client(
        base_url=target.rstrip("/"),
        timeout=timeout,
        trust_env=False,
        headers={"Authorization": f"Bearer {key}"},
    ) as client:
        for exchange in exchanges:
            live = client.request(**_request(exchange.request, ids))
            body = live.content
            recorded_body = exchange.body_bytes()
            for difference in compare_answers(
                exchange.raw["status"],
                exchange.raw.get("headers") or {},
                recorded_body,
                live.status_code,
                dict(live.headers),
                body,
            ):
                report.findings.append(Finding(exchange, difference))
            _learn_ids(recorded_body, body, ids)
    return report


def _request(spec: dict[str, Any], ids: dict[str, Json]) -> dict[str, Any]:
    path = "/".join(str(ids.get(part, part)) for part in spec["path"].split("/"))
    options: dict[str, Any] = {"method": spec["method"], "url": path}
    if spec.get("query"):
        options["params"] = {k: str(ids.get(v, v)) for k, v in spec["query"].items()}
    body = _swap(spec.get("body"), ids)
    if spec.get("files"):
        options["files"] = {
            name: (
                f["filename"],
                base64.b64decode(f.get("base64", "")),
                f.get("content_type", "application/octet-stream"),
            )
            for name, f in spec["files"].items()
        }
        options["data"] = {k: v if isinstance(v, str) else json.dumps(v) for k, v in (body or {}).items()}
    elif body is not None:
        options["json"] = body
    return options


def _swap(value: Json, ids: dict[str, Json]) -> Json:
    if isinstance(value, dict):
        return {k: _swap(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_swap(v, ids) for v in value]
    if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value) in ids:
        new = ids[str(value)]
        return new if isinstance(value, type(new)) else str(new) if isinstance(value, str) else value
    return value


def _learn_ids(recorded: bytes, live: bytes, ids: dict[str, Json]) -> None:
    try:
        a, b = json.loads(recorded), json.loads(live)
    except ValueError:
        return
    for old, new in _id_pairs(a, b):
        if old != new:
            ids.setdefault(str(old), new)


def _id_pairs(a: Json, b: Json) -> Iterator[tuple[Json, Json]]:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in a.keys() & b.keys():
            if (
                _is_id(k)
                and isinstance(a[k], (int, str))
                and isinstance(b[k], (int, str))
                and not isinstance(a[k], bool)
                and not isinstance(b[k], bool)
            ):
                yield a[k], b[k]
            else:
                yield from _id_pairs(a[k], b[k])
    elif isinstance(a, list) and isinstance(b, list):
        for x, y in zip(a, b, strict=False):  # the shorter list's items
            yield from _id_pairs(x, y)


def _is_id(key: str) -> bool:
    return key in ("id", "uuid") or key.endswith(("_id", "_uuid"))
