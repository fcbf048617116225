"""operationId -> handler. One module per resource; each operation of the specs needs an entry."""

from __future__ import annotations

from . import chat, completions, embeddings, models

HANDLERS = {
    "api_v2_chat_completions_create": chat.create,
    "api_v3_chat_completions_create": chat.create,
    "api_v2_completions_create": completions.create,
    "api_v2_embeddings_create": embeddings.create,
    "api_v3_embeddings_create": embeddings.create,
    "api_v2_models_list": models.list_models,
}
