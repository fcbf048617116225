"""Uploaded files: the store, ingestion, text extraction, hybrid retrieval, workspaces and tags."""
