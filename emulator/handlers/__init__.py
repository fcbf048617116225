"""operationId -> handler: ``handler_table`` joins every resource's table; each operation needs an entry.

A resource (``Chat``, ``Files``, ``Tools``, ``Threads`` ...) is built with the services it reads and
gives its operationId -> bound-method table (``common.Resource``); ``app.py`` builds them.
"""

from __future__ import annotations

from ..call import Handler
from ..errors import StartupError
from .common import Resource

__all__ = ["Resource", "handler_table"]


def handler_table(*resources: Resource | dict[str, Handler]) -> dict[str, Handler]:
    """Every resource's handlers (a resource object, or a table as it is) in one table; an
    operationId two of them claim is a start-up error."""
    table: dict[str, Handler] = {}
    for resource in resources:
        handlers = resource if isinstance(resource, dict) else resource.handlers()
        for operation_id, handler in handlers.items():
            if operation_id in table:
                raise StartupError(f"two handlers for operationId {operation_id!r}")
            table[operation_id] = handler
    return table
