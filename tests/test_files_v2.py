"""/api/v2/files through real HTTP: the seed's OpenAI SDK examples, pagination, ingestion, extraction
and errors."""

from __future__ import annotations

import re

import httpx
import openai
import pytest
from conftest import KEY, frozen_clock
from sample_documents import make_docx, make_pdf

AUTH = {"Authorization": f"Bearer {KEY}"}


def upload(http, name: str, data: bytes, **fields) -> dict:
    response = http.post("/api/v2/files", files={"file": (name, data)}, data=fields)
    assert response.status_code == 200, response.text  # as clients of the real service assert
    return response.json()


# -- the seed's examples (../shared/seeds/000_*.txt), unchanged but for the client -------------

def test_seed_upload_list_retrieve_delete(client, emulator, tmp_path, monkeypatch, capsys):
    (tmp_path / "document.pdf").write_bytes(make_pdf(["Quarterly report", "Revenue grew by 12 percent"]))
    monkeypatch.chdir(tmp_path)

    # Upload a file
    with open("document.pdf", "rb") as file:
        response = client.files.create(
            file=file,
            purpose="assistants"
        )
    file_id = response.id
    print(f"File uploaded: {file_id}")

    # List all files
    files = client.files.list()
    for file in files.data:
        print(f"{file.id}: {file.filename} ({file.bytes} bytes)")

    # Get file details
    file = client.files.retrieve(file_id=str(file_id))
    print(f"Filename: {file.filename}")
    print(f"Size: {file.bytes} bytes")
    print(f"Created: {file.created_at}")

    # Delete a file
    response = client.files.delete(str(file_id))
    if response.deleted:
        print("File deleted successfully")

    size = (tmp_path / "document.pdf").stat().st_size
    assert capsys.readouterr().out.splitlines() == [
        "File uploaded: 1", f"1: document.pdf ({size} bytes)", "Filename: document.pdf",
        f"Size: {size} bytes", "Created: 1735689601", "File deleted successfully"]


def test_sdk_file_object_fields(client, emulator):
    created = client.files.create(file=("notes.txt", b"some notes"), purpose="assistants")
    assert (created.object, created.bytes, created.filename, created.purpose, created.status) == \
        ("file", 10, "notes.txt", "assistants", "pending")
    assert client.files.retrieve(str(created.id)).status == "embedded"


def test_sdk_iterates_every_page_once(client, emulator, http):
    for n in range(25):
        upload(http, f"f{n}.txt", b"x")
    assert sorted(f.id for f in client.files.list()) == list(range(1, 26))


def test_sdk_retrieve_of_a_missing_file_is_not_found(client, emulator):
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve("41")


# -- the list -------------------------------------------------------------------------------------

def test_list_pages_of_20_newest_first(http, emulator):
    for n in range(45):
        upload(http, f"f{n}.txt", b"x")
    first = http.get("/api/v2/files").json()
    assert (first["object"], first["count"], len(first["data"]), first["previous"]) == ("list", 45, 20, None)
    assert [f["id"] for f in first["data"]] == list(range(45, 25, -1))
    assert first["next"].endswith("/api/v2/files?page=2")
    third = httpx.get(first["next"].replace("page=2", "page=3"), headers=AUTH).json()
    assert ([f["id"] for f in third["data"]], third["next"]) == ([5, 4, 3, 2, 1], None)
    assert third["previous"].endswith("page=2")
    assert http.get("/api/v2/files", params={"page": 2}).json()["previous"].endswith("/api/v2/files")


def test_a_page_past_the_end_is_not_found(http, emulator):
    response = http.get("/api/v2/files", params={"page": 2})
    assert (response.status_code, response.json()) == (404, {"detail": "Invalid page."})


@pytest.mark.parametrize("params, expected", [
    pytest.param({}, ["company.txt", "legal.txt", "mine.txt"], id="everything"),
    pytest.param({"private_scope": "true"}, ["mine.txt"], id="private"),
    pytest.param({"company_scope": "true", "workspace_scope": "true"}, ["company.txt", "legal.txt"],
                 id="two"),
    pytest.param({"company_scope": "false"}, ["legal.txt", "mine.txt"], id="not-company"),
    pytest.param({"workspace_id": 3}, ["legal.txt"], id="workspace-id"),
])
def test_list_scopes(http, emulator, params, expected):
    upload(http, "mine.txt", b"a")
    upload(http, "company.txt", b"b", collection_type="company")
    upload(http, "legal.txt", b"c", collection_type="workspace", workspace_id="3")
    listed = http.get("/api/v2/files", params=params).json()["data"]
    assert sorted(f["filename"] for f in listed) == expected


@pytest.mark.parametrize("sent", ["../../etc/passwd.txt", "C:\\Users\\me\\passwd.txt", "passwd.txt"])
def test_a_client_path_is_not_part_of_the_filename(http, emulator, sent):
    assert upload(http, sent, b"x")["filename"] == "passwd.txt"


def test_upload_places_the_file_in_its_collection(http, emulator):
    created = upload(http, "c.txt", b"c", collection_type="company", title="Company handbook")
    assert (created["collection_type"], created["workspace_id"], created["title"]) == \
        ("company", 2, "Company handbook")


# -- retrieve, ingestion and extraction -------------------------------------------------------------

def test_retrieve_with_content_returns_the_text(http, emulator):
    created = upload(http, "a.md", b"# Title\n\nBody text.")
    body = http.get(f"/api/v2/files/{created['id']}", params={"include_content": "true"}).json()
    assert (body["status"], body["content"], body["total_pages"]) == ("embedded", "# Title\n\nBody text.", 1)
    assert "content" not in http.get(f"/api/v2/files/{created['id']}").json()


@pytest.mark.parametrize("name, data, text", [
    pytest.param("r.pdf", make_pdf(["First page text", "Second page text"]), "First page text", id="pdf"),
    pytest.param("r.docx", make_docx([["Intro paragraph"], ["After the break"]], [["Year", "Sales"]]),
                 "Intro paragraph", id="docx"),
    pytest.param("r.html", b"<html><body><h1>Hi</h1><script>x=1</script><p>there</p></body></html>", "Hi",
                 id="html"),
    pytest.param("r.csv", b"name,age\nada,36\n", "name,age", id="csv"),
    pytest.param("r.json", b'{"key": "value"}', '{"key": "value"}', id="json"),
])
def test_text_is_extracted_by_file_type(http, emulator, name, data, text):
    created = upload(http, name, data)
    body = http.get(f"/api/v2/files/{created['id']}", params={"include_content": "true"}).json()
    assert body["status"] == "embedded"
    assert body["content"].startswith(text)


def test_pdf_and_docx_pages_are_counted(http, emulator):
    pdf = upload(http, "p.pdf", make_pdf(["one", "two", "three"]))
    docx = upload(http, "d.docx", make_docx([["one"], ["two"]]))
    assert http.get(f"/api/v2/files/{pdf['id']}").json()["total_pages"] == 3
    assert http.get(f"/api/v2/files/{docx['id']}").json()["total_pages"] == 2


@pytest.mark.parametrize("name, data", [
    pytest.param("broken.pdf", b"%PDF-1.4 this is not really a pdf", id="broken-pdf"),
    pytest.param("broken.docx", b"PK not a zip", id="broken-docx"),
    pytest.param("image.png", b"\x89PNG\r\n\x1a\n\x00\x00", id="unsupported"),
    pytest.param("blank.txt", b"   \n  ", id="no-text"),
])
def test_an_unreadable_file_ends_parsing_failed(http, emulator, name, data):
    created = upload(http, name, data)
    body = http.get(f"/api/v2/files/{created['id']}", params={"include_content": "true"}).json()
    assert (body["status"], body["content"]) == ("parsing_failed", None)
    assert name in body["status_details"]


def test_ingestion_goes_pending_parsing_embedding_embedded_with_ingest_ms(make_server):
    server = make_server(ingest_ms=1200)
    now = [100.0]
    server.emulator.state.now = frozen_clock(now)
    with httpx.Client(base_url=server.base_url, headers=AUTH, timeout=10) as http:
        file_id = upload(http, "slow.txt", b"takes a while")["id"]
        seen = [http.get(f"/api/v2/files/{file_id}").json()["status"]]
        now[0] = 101.2  # time is up: this request waits for the ingestion, whose outcome is then known
        assert http.get(f"/api/v2/files/{file_id}").json()["status"] == "embedded"
        for at in (100.3, 100.5, 100.9, 101.19, 101.2):
            now[0] = at
            seen.append(http.get(f"/api/v2/files/{file_id}").json()["status"])
    assert seen == ["pending", "pending", "parsing", "embedding", "embedding", "embedded"]


# -- delete and errors ---------------------------------------------------------------------------

def test_delete_then_not_found(http, emulator):
    created = upload(http, "a.txt", b"a")
    assert http.delete(f"/api/v2/files/{created['id']}").json() == {"id": created["id"], "object": "file",
                                                                     "deleted": True}
    path = f"/api/v2/files/{created['id']}"
    for response in (http.get(path), http.delete(path)):
        assert (response.status_code, response.json()) == (404, {"detail": "Not found."})


def test_a_non_integer_id_is_not_found(http, emulator):
    assert http.get("/api/v2/files/file-abc123").status_code == 404


@pytest.mark.parametrize("files, data, field", [
    pytest.param({"other": ("a.txt", b"a")}, {}, "file", id="no-file-part"),
    pytest.param(None, {"file": "just text", "purpose": "x"}, "file", id="file-is-text"),
    pytest.param({"file": ("a.txt", b"")}, {}, "file", id="empty-file"),
    pytest.param({"file": ("a.txt", b"a")}, {"workspace_id": "three"}, "workspace_id", id="wrong-type"),
    pytest.param({"file": ("a.txt", b"a")}, {"workspace_id": "99"}, "workspace_id", id="unknown-workspace"),
    pytest.param({"file": ("a.txt", b"a")}, {"collection_type": "workspace"}, "workspace_id",
                 id="workspace-missing"),
    pytest.param({"file": ("a.txt", b"a")}, {"collection_type": "shared"}, "collection_type",
                 id="bad-choice"),
])
def test_bad_uploads_are_400_naming_the_field(http, emulator, files, data, field):
    if files is None:  # a multipart body whose `file` part carries no filename
        response = http.post("/api/v2/files", files={"purpose": (None, "x"), "file": (None, "just text")})
    else:
        response = http.post("/api/v2/files", files=files, data=data)
    assert response.status_code == 400, response.text
    assert field in response.json()
    assert http.get("/api/v2/files").json()["count"] == 0


def test_a_json_upload_is_415_as_drf_has_no_parser_for_it(http, emulator):
    response = http.post("/api/v2/files", json={"file": "x"})
    assert (response.status_code, response.json()) == (
        415, {"detail": 'Unsupported media type "application/json" in request.'})


def test_a_form_upload_is_415(http, emulator):
    response = http.post("/api/v2/files", data={"file": "x"})
    assert response.status_code == 415


def test_an_upload_over_the_limit_is_413_and_the_server_carries_on(make_server):
    server = make_server(max_upload_mb=0.5)
    with httpx.Client(base_url=server.base_url, headers=AUTH, timeout=10) as http:
        response = http.post("/api/v2/files", files={"file": ("big.txt", b"a" * 600_000)})
        assert response.status_code == 413
        assert response.json()["detail"] == ("The upload is 600000 bytes; the upload limit is 0.5 MB "
                                             "(524288 bytes). Raise it with --max-upload-mb.")
        assert upload(http, "small.txt", b"a" * 1000)["id"] == 1
        assert http.get("/api/v2/files").json()["count"] == 1


def test_uploads_just_over_and_far_over_the_limit_get_one_message_naming_the_flag(http, emulator):
    # 26.5 MB: read, then found larger than the file limit; 30 MB: refused from its Content-Length.
    # Either way the user reads the same sentence: the limit, in MB and bytes, and the flag.
    details = []
    for size in (int(26.5 * 1024 * 1024), 30 * 1024 * 1024):
        response = http.post("/api/v2/files", files={"file": ("huge.txt", b"a" * size)})
        assert response.status_code == 413
        details.append(response.json()["detail"])
    for detail in details:
        assert re.fullmatch(r"The upload is \d+ bytes; the upload limit is 25 MB \(26214400 bytes\)\. "
                            r"Raise it with --max-upload-mb\.", detail), detail
    assert http.get("/api/v2/files").json()["count"] == 0
