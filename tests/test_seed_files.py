"""The file examples of seed 000 (upload, list, retrieve, delete through the OpenAI SDK).

Copied as the docs write them, but for the URL and the id: the docs retrieve and delete
"file-abc123", and Paradigm's v2 file ids are integers, so the examples use the id the
upload returned. Skipped while the served specs have no /api/v2/files.
"""

# ruff: noqa: F811  (pytest fixtures imported from contract are redefined as arguments)

from __future__ import annotations

import io

import httpx
import openai
import pytest
from contract import (
    checking_hooks,
    contract,  # noqa: F401  (fixtures)
)
from pypdf import PdfWriter

from emulator.config import DEFAULT_SPEC_DIR
from emulator.spec import load_specs

HAS_FILES = any(op.path == "/api/v2/files" for spec in load_specs(DEFAULT_SPEC_DIR) for op in spec.operations)
pytestmark = pytest.mark.skipif(not HAS_FILES, reason="/api/v2/files is not in the served specs yet")


@pytest.fixture
def client(server, emulator, contract):
    """The SDK as the docs configure it (api_key, base_url), every answer checked against the spec."""
    with openai.OpenAI(
        api_key="your-paradigm-api-key",
        base_url=server.v2,
        max_retries=0,
        http_client=httpx.Client(timeout=10.0, event_hooks=checking_hooks(contract)),
    ) as made:
        yield made


@pytest.fixture
def document_pdf(tmp_path, monkeypatch):
    """A real one-page document.pdf in the working directory, as the example opens it."""
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    buffer = io.BytesIO()
    writer.write(buffer)
    (tmp_path / "document.pdf").write_bytes(buffer.getvalue())
    monkeypatch.chdir(tmp_path)
    return len(buffer.getvalue())


def upload(client) -> object:
    # Upload a file
    with open("document.pdf", "rb") as file:
        response = client.files.create(file=file, purpose="assistants")
    return response


def test_upload_files(client, document_pdf, capsys):
    response = upload(client)
    file_id = response.id
    print(f"File uploaded: {file_id}")
    assert capsys.readouterr().out == f"File uploaded: {file_id}\n"
    assert response.filename == "document.pdf" and response.bytes == document_pdf


def test_list_files(client, document_pdf, capsys):
    uploaded = upload(client)
    # List all files
    files = client.files.list()
    for file in files.data:
        print(f"{file.id}: {file.filename} ({file.bytes} bytes)")
    assert f"{uploaded.id}: document.pdf ({document_pdf} bytes)" in capsys.readouterr().out.splitlines()


def test_retrieve_file(client, document_pdf, capsys):
    uploaded = upload(client)
    # Get file details
    file = client.files.retrieve(file_id=str(uploaded.id))
    print(f"Filename: {file.filename}")
    print(f"Size: {file.bytes} bytes")
    print(f"Created: {file.created_at}")
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == ["Filename: document.pdf", f"Size: {document_pdf} bytes"]
    assert lines[2] == f"Created: {uploaded.created_at}" and isinstance(file.created_at, int)


def test_delete_file(client, document_pdf, capsys):
    uploaded = upload(client)
    # Delete a file
    response = client.files.delete(str(uploaded.id))
    if response.deleted:
        print("File deleted successfully")
    assert capsys.readouterr().out == "File deleted successfully\n"
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(file_id=str(uploaded.id))
