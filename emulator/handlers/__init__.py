"""operationId -> handler. One module per resource; each operation of the specs needs an entry.

The model calls (chat, completions, embeddings, models, threads and turns) are handler objects
that ``app.py`` builds and adds to this table."""

from __future__ import annotations

from ..call import Handler
from . import agents, documents, files, files_v3, workspaces
from . import analysis, chunks, retrieve, upload_sessions  # the document API (issue 11)

HANDLERS: dict[str, Handler] = {
    "api_v2_files_create": files.create,
    "api_v2_files_list": files.list_files,
    "api_v2_files_retrieve": files.retrieve,
    "api_v2_files_destroy": files.destroy,
    "api_v2_files_chunks_retrieve": files.chunks,
    "api_v2_files_ask_question_create": documents.ask_question,
    "api_v2_tokenize_create": documents.tokenize_text,
    "api_v2_query_create": documents.query,
    "api_v2_chat_document_search_create": documents.document_search,
    "api_v3_files_create": files_v3.create,
    "api_v3_files_list": files_v3.list_files,
    "api_v3_files_retrieve": files_v3.retrieve,
    "api_v3_files_destroy": files_v3.destroy,
    "api_v3_files_partial_update": files_v3.update,
    "api_v3_files_tags_create": files_v3.add_tags,
    "api_v3_workspaces_list": workspaces.list_workspaces,
    "api_v3_workspaces_create": workspaces.create_workspace,
    "api_v3_workspaces_retrieve": workspaces.retrieve_workspace,
    "api_v3_workspaces_partial_update": workspaces.update_workspace,
    "api_v3_tags_list": workspaces.list_tags,
    "api_v3_tags_create": workspaces.create_tag,
    "api_v3_tags_destroy": workspaces.destroy_tag,
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
    # -- document API (issue 11)
    "api_v2_upload_session_create": upload_sessions.create,
    "api_v2_upload_session_deactivate_create": upload_sessions.deactivate,
    "api_v2_upload_session_file_create": upload_sessions.add_file,
    "api_v2_upload_session_retrieve": upload_sessions.retrieve,
    "api_v2_upload_session_destroy": upload_sessions.destroy,
    "api_v2_chat_document_analysis_create": analysis.create,
    "api_v2_chat_document_analysis_retrieve": analysis.retrieve,
    "api_v2_tools_document_analysis_status_retrieve": analysis.status,
    "api_v2_chat_image_analysis_create": analysis.image_analysis,
    "api_v2_filter_chunks_create": chunks.filter_chunks,
    "api_v2_query_reformulation_create": chunks.reformulation,
    "api_v3_retrieve_create": retrieve.retrieve,
}
