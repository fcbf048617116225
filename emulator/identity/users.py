"""Users and companies: the typed model every part reads (who a key is, its company, its limits).

The ``--users FILE`` YAML that declares them is read by ``identity/users_file.py``. The key
itself is a credential: it is never shown in any output (the journal, the control API, the
metrics); a user is shown by id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property


@dataclass(frozen=True)
class RateLimits:
    """Requests and tokens per window (None: no limit of that kind)."""

    rpm: int | None = None
    tpm: int | None = None

    def __bool__(self) -> bool:
        return self.rpm is not None or self.tpm is not None


@dataclass(frozen=True)
class Company:
    id: int
    name: str

    @cached_property  # read by several stages of every request
    def space(self) -> str:
        """The company's test space: what its runtime fixtures, counters and journal view are keyed by."""
        return f"c{self.id}"


@dataclass(frozen=True)
class User:
    id: int
    name: str
    email: str
    company: Company
    role: str = "member"
    groups: tuple[str, ...] = ()
    limits: RateLimits = field(default_factory=RateLimits)
    implicit: bool = False  # made up for a key that no users file declares

    @cached_property
    def space(self) -> str:
        return self.company.space

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"
