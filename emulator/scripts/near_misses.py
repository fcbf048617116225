"""The error of --strict for an unmatched request, and its report: the closest fixtures, and why not."""

from __future__ import annotations

from ..call import Call
from ..errors import ModelServerError
from .fixture import Fixture
from .request_view import RequestView

NEAR_MISSES = 3


class Unmatched(ModelServerError):
    """--strict: no fixture matched a model call."""

    status = 404
    error_type = "NotFoundError"


def near_miss_report(call: Call, fixtures: list[Fixture], uses: list[int], replays: bool,
                     regex_budget_ms: float, answering: frozenset[str]) -> str:
    """``uses``: each fixture's use count; ``replays``: whether recorded exchanges are loaded."""
    request = call.request
    errors = "unrecorded requests" if replays else "unmatched model calls"
    head = (f"No fixture matches {request.method} {request.url.path} and the emulator runs with --strict "
            f"({errors} are errors).")
    if not fixtures:
        return head + " No fixtures are loaded."
    view = RequestView(call, regex_budget_ms)
    for fixture, used in zip(fixtures, uses, strict=False):
        fixture.uses = used  # what `failures` reports as "used up"
    scored = sorted(((fixture.failures(view, answering), order, fixture)
                     for order, fixture in enumerate(fixtures)), key=lambda t: (len(t[0]), t[1]))
    lines = [f"{number}. {fixture.name!r} ({fixture.source}): {'; '.join(failed) or 'matches'}"
             for number, (failed, _, fixture) in enumerate(scored[:NEAR_MISSES], 1)]
    return f"{head} Closest fixtures: " + " ".join(lines)
