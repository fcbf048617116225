"""The user-facing operations that complete the v3 and v2 surface: an agent's files and icon, users/me
updates, v2 feedbacks, and the openai SDK's models and files lists on the /api/v3 base URL."""

from __future__ import annotations

from tests.document_api import upload_v3_embedded as upload

TURNS = "/api/v3/threads/turns"
REFUNDS = (
    b"Refund policy. Customers may ask for a refund within 30 days of purchase. "
    b"Refunds are paid back to the original card within five business days."
)
HOLIDAYS = b"Holiday policy. Every employee has twenty-five days of paid holidays each year."




def test_an_agent_lists_the_files_of_its_workspaces(backend_http):
    legal = upload(backend_http, "refunds.txt", REFUNDS, workspace_id=3)
    upload(backend_http, "holidays.txt", HOLIDAYS, workspace_id=1)

    listed = backend_http.get("/api/v3/agents/2/files").json()  # the Legal assistant: workspace 3 only
    everyone = backend_http.get("/api/v3/agents/1/files").json()

    assert [f["id"] for f in listed["results"]] == [legal] and listed["count"] == 1
    assert listed["results"][0]["search_details"] is None
    assert everyone["count"] == 2
    assert backend_http.get("/api/v3/agents/1/files", params={"extension": "md"}).json()["count"] == 0
    by_extension = backend_http.get("/api/v3/agents/2/files", params={"extension": ".TXT,md"}).json()
    assert [f["id"] for f in by_extension["results"]] == [legal]
    by_name = backend_http.get("/api/v3/agents/1/files", params={"filename": "REFUND"}).json()
    assert [f["id"] for f in by_name["results"]] == [legal]
    assert backend_http.get("/api/v3/agents/999/files").status_code == 404


def test_a_query_ranks_an_agents_files_with_their_relevant_chunks(backend_http):
    refunds = upload(backend_http, "refunds.txt", REFUNDS, workspace_id=1)
    upload(backend_http, "holidays.txt", HOLIDAYS, workspace_id=1)

    found = backend_http.get("/api/v3/agents/1/files", params={"query": "refund card"}).json()

    assert [f["id"] for f in found["results"]] == [refunds]
    (chunk, *_) = found["results"][0]["search_details"]["relevant_chunks"]
    assert "refund" in chunk["text"].lower() and chunk["chunk_type"] == "text"
    assert chunk["lexical_score"] > 0 and set(chunk) == {
        "text",
        "final_score",
        "chunk_type",
        "lexical_score",
        "distance",
    }


def test_an_agent_icon_is_uploaded_up_to_5_mb(backend_http):
    small = backend_http.put(
        "/api/v3/agents/1/icon", files={"icon": ("icon.png", b"\x89PNG\r\n\x1a\n" + b"0" * 64)}
    )
    large = backend_http.put(
        "/api/v3/agents/1/icon", files={"icon": ("big.png", b"0" * (5 * 1024 * 1024 + 1))}
    )
    missing = backend_http.put("/api/v3/agents/1/icon", files={"file": ("icon.png", b"x")})

    assert small.status_code == 200 and small.json() == {"message": "Icon uploaded successfully"}
    assert large.status_code == 400 and "5 MB" in large.json()["icon"][0]
    assert missing.status_code == 400 and "icon" in missing.json()
    empty = backend_http.put("/api/v3/agents/1/icon", files={"icon": ("empty.png", b"")})
    assert empty.status_code == 400 and "empty" in empty.json()["icon"][0]
    assert backend_http.put("/api/v3/agents/999/icon", files={"icon": ("i.png", b"x")}).status_code == 404


def test_users_me_settings_are_updated_and_kept(backend_http):
    patched = backend_http.patch(
        "/api/v3/users/me",
        json={
            "language": "fr",
            "agent_instructions": "Be brief.",
            "skip_help_step": False,
            "terms_accepted": False,
        },
    )
    read = backend_http.get("/api/v3/users/me").json()
    bad = backend_http.patch("/api/v3/users/me", json={"language": "xx"})

    assert patched.status_code == 200 and patched.json() == read
    assert read["settings"] == {"language": "fr", "skip_help_step": False, "agent_instructions": "Be brief."}
    assert read["compliance"] == {"terms_accepted": False}
    assert bad.status_code == 400 and "language" in bad.json()


def test_a_v2_completion_feedback_is_logged(backend_http):
    liked = backend_http.post("/api/v2/rate/1/chatcmpl-123", json={"comment": "Great"})
    again = backend_http.post("/api/v2/rate/1/chatcmpl-123", json={})
    unknown = backend_http.post("/api/v2/rate/9/chatcmpl-123", json={})

    assert liked.status_code == 201
    assert liked.json() == {
        **liked.json(),
        "feedback_type_id": 1,
        "feedback_type": "like",
        "completion_id": "chatcmpl-123",
        "comment": "Great",
    }
    assert again.json()["id"] == liked.json()["id"] and again.json()["comment"] is None
    assert unknown.status_code == 404


def test_the_openai_sdk_lists_models_and_files_on_the_v3_base_url(emulator, client_v3, http):
    ids = [upload(http, f"doc{n}.txt", REFUNDS + str(n).encode(), workspace_id=1) for n in range(22)]

    models = client_v3.models.list()
    files = list(client_v3.files.list())  # follows has_more / after through both pages

    assert "alfred-4" in {m.id for m in models.data}
    assert sorted(f.id for f in files) == sorted(ids)
    assert {f.filename for f in files} == {f"doc{n}.txt" for n in range(22)}
    page = http.get("/api/v3/files").json()
    assert page["has_more"] is True and len(page["results"]) == len(page["data"]) == 20
