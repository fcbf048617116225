"""operationId -> handler. One module per resource; each operation of the specs needs an entry."""

from __future__ import annotations

from ..call import Handler
from . import chat, completions, documents, embeddings, files, files_v3, models

HANDLERS: dict[str, Handler] = {
    "api_v2_chat_completions_create": chat.create,
    "api_v3_chat_completions_create": chat.create,
    "api_v2_completions_create": completions.create,
    "api_v2_embeddings_create": embeddings.create,
    "api_v3_embeddings_create": embeddings.create,
    "api_v2_models_list": models.list_models,
    "api_v2_files_create": files.create,
    "api_v2_files_list": files.list_files,
    "api_v2_files_retrieve": files.retrieve,
    "api_v2_files_destroy": files.destroy,
    "api_v2_files_ask_question_create": documents.ask_question,
    "api_v2_tokenize_create": documents.tokenize_text,
    "api_v2_query_create": documents.query,
    "api_v2_chat_document_search_create": documents.document_search,
    "api_v3_files_create": files_v3.create,
    "api_v3_files_list": files_v3.list_files,
    "api_v3_files_retrieve": files_v3.retrieve,
    "api_v3_files_destroy": files_v3.destroy,
    "api_v3_workspaces_list": files_v3.list_workspaces,
    "api_v3_tags_list": files_v3.list_tags,
}
