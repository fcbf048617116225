"""How to test code that uploads documents: the emulator keeps an in-memory file store.

The OpenAI SDK's files API works against it as against Paradigm (upload, list, retrieve,
delete), and the store is emptied before every test, like the scripts and the journal.
"""

from __future__ import annotations

import openai
import pytest


def archive(client: openai.OpenAI, name: str, content: bytes) -> str:
    """The code under test: uploads a document and returns its id."""
    uploaded = client.files.create(file=(name, content), purpose="assistants")
    return str(uploaded.id)


def test_an_uploaded_file_is_listed_and_retrieved(paradigm_emulator, paradigm_client):
    file_id = archive(paradigm_client, "contract.txt", b"The term is two years.")

    assert [str(f.id) for f in paradigm_client.files.list().data] == [file_id]
    assert paradigm_client.files.retrieve(file_id).filename == "contract.txt"
    upload, = paradigm_emulator.assert_called("POST /files")  # a method narrows the target
    assert upload.json["file"] == "<file contract.txt>"  # uploads are journaled by name, not content


def test_a_deleted_file_is_gone(paradigm_client):
    file_id = archive(paradigm_client, "draft.txt", b"draft")

    assert paradigm_client.files.delete(file_id).deleted is True

    with pytest.raises(openai.NotFoundError):
        paradigm_client.files.retrieve(file_id)


def test_every_test_starts_with_an_empty_store(paradigm_client):
    assert paradigm_client.files.list().data == []
