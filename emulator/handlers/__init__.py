"""operationId -> handler. One module per resource; each operation of the specs needs an entry."""

from __future__ import annotations

from . import agents, chat, completions, documents, embeddings, files, files_v3, models, threads

HANDLERS = {
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
    # -- agents, threads, turns
    "api_v3_agents_list": agents.list_agents,
    "api_v3_agents_create": agents.create_agent,
    "api_v3_agents_retrieve": agents.retrieve_agent,
    "api_v3_agents_partial_update": agents.update_agent,
    "api_v3_agents_tools_retrieve": agents.agent_tools,
    "api_v3_agents_tags_list": agents.agent_tags,
    "api_v3_tools_list": agents.list_tools,
    "api_v3_groups_list": agents.list_groups,
    "api_v3_users_me_retrieve": agents.me,
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
