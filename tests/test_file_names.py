"""A file's name from any field is reduced to a base name without control characters."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    "sent, kept",
    [
        ("../../../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\report.pdf", "report.pdf"),
        ("notes\r\nX-Injected: 1.txt", "notesX-Injected: 1.txt"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),
    ],
)
def test_the_filename_form_field_is_a_base_name_without_control_characters(http, emulator, sent, kept):
    response = http.post(
        "/api/v2/files", files={"file": ("upload.txt", b"some text")}, data={"filename": sent}
    )
    assert response.is_success  # 201 (200 once v2 uploads answer as Paradigm does)
    assert response.json()["filename"] == kept
    assert http.get(f"/api/v2/files/{response.json()['id']}").json()["filename"] == kept


def test_the_multipart_filename_is_a_base_name_without_control_characters(http, emulator):
    # Raw bytes: httpx would percent-encode the control characters of a filename it is given.
    body = (
        b'--b0\r\nContent-Disposition: form-data; name="workspace_id"\r\n\r\n1\r\n'
        b'--b0\r\nContent-Disposition: form-data; name="file"; filename="../../secret\x1b[31m\x07.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\nsome text\r\n--b0--\r\n"
    )
    response = http.post(
        "/api/v3/files", content=body, headers={"Content-Type": "multipart/form-data; boundary=b0"}
    )
    assert response.is_success  # 201 (200 once v2 uploads answer as Paradigm does)
    assert response.json()["filename"] == "secret[31m.txt"


def test_a_filename_field_that_is_only_a_path_falls_back_to_the_uploaded_name(http, emulator):
    response = http.post(
        "/api/v2/files", files={"file": ("kept.txt", b"some text")}, data={"filename": "../.."}
    )
    assert response.is_success and response.json()["filename"] == "kept.txt"
