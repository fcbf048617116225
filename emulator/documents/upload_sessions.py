"""The upload sessions: each one a record of the state backend (space ``upload-sessions``, by uuid).

A session is whether it is still valid, its ingestion pipeline, and the ids of the files added to
it, in order; the files themselves are ordinary records of the file store. Uuids are drawn from the
seed and a counter of the backend, timestamps from the epoch and that counter: the same run of
requests gives the same sessions on every worker and every run.
"""

from __future__ import annotations

import dataclasses
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..generation.text import request_key
from ..identity.ownership import drop_company_records, visible
from ..identity.users import User
from ..state import Backend, Value

SPACE = "upload-sessions"
COUNTER = "upload-session-ids"


@dataclass(frozen=True)
class UploadSession:
    """One session, as the value the backend keeps (``value()`` / ``of()``)."""

    uuid: str
    number: int  # its place in the backend's counter: what its uuid and created_at are drawn from
    created_at: int  # Unix seconds: the epoch plus ``number``
    ingestion_pipeline: str | None = None
    is_valid: bool = True
    documents: tuple[int, ...] = ()  # the ids of the files added, in order
    updated_at: int = 0  # the created_at of the last file added (0: none yet)
    owner: dict[str, Any] = field(default_factory=dict)  # who made it (identity/ownership.py): theirs alone

    def value(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "documents": list(self.documents)}

    @classmethod
    def of(cls, value: Any) -> UploadSession:
        return cls(**{**value, "documents": tuple(value.get("documents") or ())})


def session_uuid(seed: int, number: int) -> str:
    return str(uuidlib.UUID(bytes=request_key("upload-session", seed, number)[:16], version=4))


def _changed(change: Callable[[UploadSession], UploadSession]) -> Callable[[Value | None], Value | None]:
    """A session change as the backend's ``update`` takes it (a session gone stays gone)."""
    return lambda value: change(UploadSession.of(value)).value() if isinstance(value, dict) else None


class UploadSessionStore:
    """The sessions of the state backend; new ones numbered by its counter (``seed``, ``epoch``: the
    emulator's, for their uuids and timestamps)."""

    def __init__(self, state: Backend, seed: int, epoch: int):
        self.state, self.seed, self.epoch = state, seed, epoch

    async def create(self, ingestion_pipeline: str | None,
                     owner: dict[str, Any] | None = None) -> UploadSession:
        number = await self.state.next_id(COUNTER)
        session = UploadSession(uuid=session_uuid(self.seed, number), number=number,
                                created_at=self.epoch + number, ingestion_pipeline=ingestion_pipeline,
                                owner=dict(owner or {}))
        await self.state.put(SPACE, session.uuid, session.value())
        return session

    async def get(self, key: str) -> UploadSession | None:
        value = await self.state.get(SPACE, key)
        return UploadSession.of(value) if isinstance(value, dict) else None

    async def delete(self, key: str) -> bool:
        return await self.state.delete(SPACE, key)

    async def deactivate_all(self, viewer: User | None = None) -> list[str]:
        """Every valid session (of those the viewer may see, when given) made invalid; -> their uuids,
        in the order they were created."""
        invalidate = _changed(lambda session: dataclasses.replace(session, is_valid=False))
        done = []
        for key, value in (await self.state.items(SPACE)).items():
            if not isinstance(value, dict):
                continue
            session = UploadSession.of(value)
            if session.is_valid and visible(session.owner, viewer):
                await self.state.update(SPACE, key, invalidate)
                done.append(key)
        return done

    async def drop_company(self, company_id: int) -> int:
        """Remove every session a user of the company made (a space's reset); -> how many."""
        return await drop_company_records(self.state, SPACE, company_id)

    async def attach(self, key: str, file_id: int, created_at: int) -> bool:
        """Add a file to the session; -> False when the session is gone (deleted meanwhile)."""
        attach = _changed(lambda current: dataclasses.replace(
            current, documents=(*current.documents, file_id), updated_at=created_at))
        return await self.state.update(SPACE, key, attach) is not None
