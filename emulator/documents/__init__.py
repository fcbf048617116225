"""Uploaded files: the store, ingestion, text extraction, workspaces and tags."""
