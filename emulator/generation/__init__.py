"""Deterministic content: text, structured output, embedding vectors."""
