"""The files a turn may read, and the search a turn's document tools run over them.

This is the conversations' one seam with the file store: which files a turn's scope selects
(``file_ids``, ``workspace_ids``, ``private_scope``, ``company_scope``, as for v2's document
search), and the passages a search finds, as plain ``Passage`` values a turn record can keep.
The search is ``Retrieval.search``, the one v2's ``/chat/document-search`` runs, and the answer
is ``summaries.compose_answer``, the one it quotes with, so a turn and a document search agree
on what is relevant and on what answers.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from ..documents.retrieval import Retrieval
from ..documents.store import FileStore
from ..documents.summaries import compose_answer, split_sentences
from ..documents.workspace_store import WorkspaceStore
from ..documents.workspaces import scoped_types
from ..errors import ValidationError
from ..identity.users import User
from . import choices


@dataclass(frozen=True)
class Passage:
    file_id: int
    filename: str
    page: int
    chunk_id: int  # the chunk's integer id (what a source's document_chunk names)
    chunk_uuid: str
    text: str
    score: float
    distance: float
    certainty: float


@dataclass(frozen=True)
class Scope:
    file_ids: tuple[int, ...]
    explicit: bool  # the request named files, workspaces or a scope (not the default: everything)


class DocumentScope:
    """What a turn reads of the files: its scope, their passages, their names and counts."""

    def __init__(self, files: FileStore, workspaces: WorkspaceStore, retrieval: Retrieval):
        self.files, self.workspaces, self.retrieval = files, workspaces, retrieval

    async def scope(self, body: dict[str, Any], viewer: User | None = None) -> Scope:
        """The files the request's scope selects, of those the viewer may see (when given: another
        user's file is as unknown as one never uploaded); an unknown file or workspace id is a 400
        naming it."""
        if not any(body.get(k) is not None for k in ("file_ids", "workspace_ids", "private_scope",
                                                     "company_scope", "force_tool")):
            return Scope((), False)  # nothing names files: no tool will read any (and no store read)
        directory = self.workspaces
        records = await self.files.all(viewer)
        if body.get("file_ids"):
            known = {r.id for r in records}
            missing = [i for i in body["file_ids"] if i not in known]
            if missing:
                raise ValidationError({"file_ids": [choices.does_not_exist("file_ids", i)["file_ids"][0]
                                                    for i in missing]})
            return Scope(tuple(i for i in dict.fromkeys(body["file_ids"])), True)
        private, company = body.get("private_scope"), body.get("company_scope")
        workspaces = await directory.workspaces(viewer)
        if body.get("workspace_ids"):
            unknown = [i for i in body["workspace_ids"] if i not in workspaces]
            if unknown:
                raise ValidationError({"workspace_ids": [
                    choices.does_not_exist("workspace_ids", i)["workspace_ids"][0] for i in unknown]})
            spaces = set(body["workspace_ids"])
            spaces |= {(await directory.personal(viewer)).id} if private is True else set()
            spaces |= {(await directory.company_workspace(viewer)).id} if company is True else set()
            return Scope(tuple(r.id for r in records if r.workspace_id in spaces), True)
        types = scoped_types(private, company, None)
        kinds = {w.id: w.workspace_type for w in (await directory.every_workspace(viewer)).values()}
        selected = tuple(r.id for r in records if kinds.get(r.workspace_id, "custom") in types)
        return Scope(selected, private is not None or company is not None)

    async def search(self, query: str, file_ids: Collection[int], n: int = 5) -> list[Passage]:
        """The ``n`` passages of the (embedded) files that best answer ``query``, best first."""
        if not file_ids:
            return []
        return [Passage(file_id=hit.record.id, filename=hit.record.filename, page=hit.chunk.page,
                        chunk_id=int.from_bytes(uuid.UUID(hit.chunk.uuid).bytes[:6], "big"),
                        chunk_uuid=hit.chunk.uuid, text=hit.text, score=hit.score, distance=hit.distance,
                        certainty=hit.certainty)
                for hit in await self.retrieval.search(query, file_ids=file_ids, n=n)]

    async def filenames(self, file_ids: Collection[int]) -> dict[int, str]:
        ids = list(dict.fromkeys(file_ids))
        return {r.id: r.filename for r in await self.files.get_many(ids) if r is not None}

    def answer(self, question: str, passages: list[Passage]) -> tuple[str, set[int]]:
        return answer(question, passages)

    def summary(self, passages: list[Passage], names: dict[int, str]) -> str:
        return summary(passages, names)

    async def count_in_workspace(self, workspace_id: int, viewer: User | None = None) -> int:
        return sum(1 for r in await self.files.all(viewer) if r.workspace_id == workspace_id)

    async def tag_counts(self, workspace_ids: Collection[int], viewer: User | None = None) -> dict[int, int]:
        counts: dict[int, int] = {}
        for record in await self.files.all(viewer):
            if record.workspace_id in workspace_ids:
                for tag in record.tag_ids:
                    counts[tag] = counts.get(tag, 0) + 1
        return counts


def answer(question: str, passages: list[Passage]) -> tuple[str, set[int]]:
    """The sentence of the passages sharing the most words with the question (the better-ranked one
    wins a tie), quoted with its document and page; another document that also answers is named.
    -> (the answer, the ids of the files it cites)."""
    return compose_answer(question, passages)


def summary(passages: list[Passage], names: dict[int, str]) -> str:
    """document_analysis: each file's first passage, by file."""
    lines = []
    for file_id, name in names.items():
        first = next((p for p in passages if p.file_id == file_id), None)
        if first is None:
            lines.append(f"{name}: no text could be read.")
        else:
            sentence = next(iter(split_sentences(first.text)), first.text)
            lines.append(f"{name} (page {first.page}): {sentence}")
    return "\n".join(lines)
