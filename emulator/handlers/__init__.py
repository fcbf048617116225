"""operationId -> handler: ``handler_table`` joins every resource's table; each operation needs an entry.

A resource (``Files``, ``Tools``, ``Agents`` ...) is built with the services it reads and gives
its operationId -> bound-method table (``common.Resource``); ``app.py`` builds them.
The model operations (chat, completions, embeddings, models) and the threads are module
functions, listed in ``FUNCTIONS``.
"""

from __future__ import annotations

from ..call import Handler
from ..errors import StartupError
from . import chat, completions, embeddings, models, threads
from .common import Resource

__all__ = ["FUNCTIONS", "Resource", "handler_table"]

FUNCTIONS: dict[str, Handler] = {
    "api_v2_chat_completions_create": chat.create,
    "api_v3_chat_completions_create": chat.create,
    "api_v2_completions_create": completions.create,
    "api_v2_embeddings_create": embeddings.create,
    "api_v3_embeddings_create": embeddings.create,
    "api_v2_models_list": models.list_models,
    "api_v3_threads_create": threads.create_thread,
    "api_v3_threads_list": threads.list_threads,
    "api_v3_threads_retrieve_2": threads.retrieve_thread,
    "api_v3_threads_partial_update": threads.update_thread,
    "api_v3_threads_turns_create": threads.create_thread_turn,
    "api_v3_threads_turns_create_2": threads.create_turn,
    "api_v3_threads_turns_list": threads.list_turns,
    "api_v3_threads_turns_partial_update": threads.update_turn,
    "api_v3_sources_retrieve": threads.list_sources,
}


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
