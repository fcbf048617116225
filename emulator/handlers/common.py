"""What every resource's handlers share: the table they expose, a body as a mapping, DRF's pages.

A resource is a class built with the services its handlers read; ``handlers()`` is its
operationId -> bound-method table, which ``handlers.handler_table`` joins into the app's.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

from starlette.requests import Request

from ..call import Call, Handler
from ..errors import NotFound, ValidationError

PAGE_SIZE = 20  # Paradigm's, fixed: "cannot be modified"


class Resource(Protocol):
    def handlers(self) -> dict[str, Handler]: ...


def body_of(call: Call) -> dict[str, Any]:
    """The request's body as a mapping (one that is not an object, as a PATCH may send: empty)."""
    return call.body if isinstance(call.body, dict) else {}


def does_not_exist(field: str, ids: list[Any]) -> ValidationError:
    """DRF's answer to primary keys that name nothing."""
    return ValidationError({field: [f'Invalid pk "{i}" - object does not exist.' for i in ids]})


def paginate(request: Request, items: list[Any], page: int,
             size: int = PAGE_SIZE) -> tuple[list[Any], int, str | None, str | None]:
    """DRF's PageNumberPagination: -> (the page's items, count, next URL, previous URL)."""
    count = len(items)
    last = max(1, math.ceil(count / size))
    if page < 1 or page > last:
        raise NotFound("Invalid page.")
    url = request.url
    following = str(url.include_query_params(page=page + 1)) if page < last else None
    if page == 1:
        previous = None
    elif page == 2:
        previous = str(url.remove_query_params("page"))
    else:
        previous = str(url.include_query_params(page=page - 1))
    return items[(page - 1) * size:page * size], count, following, previous
