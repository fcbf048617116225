"""Document analysis (create, poll, status) and image analysis through real HTTP, on both state
backends: the full flow upload session -> ingest -> analysis -> poll -> result, its phases, its
errors, and the refusals."""

from __future__ import annotations

import uuid

import httpx
import pytest
from conftest import KEY, TIMEOUT, backend_overrides
from document_api import DOCX_TYPE, conforms, poll_analysis, upload, wait_embedded
from sample_documents import make_docx, make_image, make_pdf

PDF = make_pdf(
    [
        "The lighthouse keeper logs every passing ship.\nFog delays the ferries in winter.",
        "The lamp was converted to electricity in 1952.",
    ]
)
DOCX = make_docx(
    [
        ["The orchard grows seventeen kinds of apple.", "Bees pollinate the orchard in spring."],
        ["The harvest festival draws visitors from the whole valley."],
    ]
)
ORDER = [
    "INITIALIZING",
    "PROMPT_GENERATION_INITIALIZING",
    "PROMPT_GENERATED",
    "VISUAL_SUMMARIZATION",
    "VISUAL_SUMMARIZATION_GENERATED",
    "SUMMARIZATION_GENERATING_INTERMEDIATE_SUMMARIES",
    "INTERMEDIATE_SUMMARIES_GENERATED",
    "GENERATING_FINAL_SUMMARY",
    "COMPLETED",
]


def session_upload(http, *files: tuple[str, bytes, str]) -> list[int]:
    session = http.post("/api/v2/upload-session").json()["uuid"]
    ids = []
    for name, data, content_type in files:
        response = http.post(f"/api/v2/upload-session/{session}", files={"file": (name, data, content_type)})
        assert response.status_code == 200, response.text
        ids.append(response.json()["id"])
    return ids


def analyse(http, query: str, document_ids: list[int], **extra) -> httpx.Response:
    return http.post(
        "/api/v2/chat/document-analysis", json={"query": query, "document_ids": document_ids, **extra}
    )


def test_upload_session_to_analysis_result(backend_http):
    ids = session_upload(
        backend_http, ("lighthouse.pdf", PDF, "application/pdf"), ("orchard.docx", DOCX, DOCX_TYPE)
    )
    response = analyse(backend_http, "When was the lamp converted, and which apple kinds grow?", ids)
    assert response.status_code == 200, response.text
    created = response.json()
    conforms("api_v2_chat_document_analysis_create", created)
    assert created["uuid"] == created["chat_response_id"] and isinstance(created["chat_session_id"], int)
    seen = poll_analysis(backend_http, created["uuid"])
    for answer in seen:
        conforms("api_v2_chat_document_analysis_retrieve", answer)
    final = seen[-1]
    assert (final["status"], final["progress"], final["documents"]) == ("COMPLETED", 100.0, ids)
    assert "The lamp was converted to electricity in 1952." in final["result"]
    assert "The orchard grows seventeen kinds of apple." in final["result"]
    assert final["result"].index("lighthouse") < final["result"].index("orchard")


def test_the_status_endpoint_tells_the_same_story(backend_http):
    ids = session_upload(backend_http, ("orchard.docx", DOCX, DOCX_TYPE))
    key = analyse(backend_http, "Who pollinates the orchard?", ids).json()["uuid"]
    result = poll_analysis(backend_http, key)[-1]["result"]
    status = backend_http.get(f"/api/v2/tools/document-analysis/{key}/status/").json()
    conforms("api_v2_tools_document_analysis_status_retrieve", status)
    assert (status["task_id"], status["status"], status["progress"], status["error"]) == (
        key,
        "COMPLETED",
        100.0,
        None,
    )
    assert status["result"] == {"answer": result, "documents": ids}
    assert status["created_at"] < status["completed_at"]
    assert "Bees pollinate the orchard in spring." in result


def test_a_form_body_is_read_as_drf_reads_it(backend_http):
    ids = session_upload(backend_http, ("orchard.docx", DOCX, DOCX_TYPE))
    response = backend_http.post(
        "/api/v2/chat/document-analysis", data={"query": "apples", "document_ids": [str(i) for i in ids]}
    )
    assert response.status_code == 200, response.text
    assert poll_analysis(backend_http, response.json()["uuid"])[-1]["documents"] == ids


def test_a_body_that_is_not_json_is_a_400(backend_http):
    response = backend_http.post(
        "/api/v2/chat/document-analysis", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400 and response.json()["detail"].startswith("JSON parse error")


def test_a_poll_accepts_the_chat_response_id(backend_http):
    ids = session_upload(backend_http, ("orchard.docx", DOCX, DOCX_TYPE))
    created = analyse(backend_http, "apples", ids).json()
    response = backend_http.get(f"/api/v2/chat/document-analysis/{created['chat_response_id']}")
    assert response.status_code == 200 and response.json()["uuid"] == created["uuid"]


def test_the_same_requests_give_the_same_analysis_after_a_reset(backend_http, on_backend):
    def run() -> tuple[dict, str]:
        ids = session_upload(backend_http, ("lighthouse.pdf", PDF, "application/pdf"))
        created = analyse(backend_http, "ferries in winter", ids).json()
        return created, poll_analysis(backend_http, created["uuid"])[-1]["result"]

    first = run()
    httpx.post(on_backend.base_url + "/_emulator/reset", timeout=TIMEOUT).raise_for_status()
    assert run() == first


@pytest.mark.parametrize("kind", ["memory", "redis"])
def test_the_analysis_walks_the_documented_phases_in_order(make_server, kind):
    server = make_server(analysis_ms=1500, **backend_overrides(kind))
    with httpx.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=TIMEOUT
    ) as http:
        ids = session_upload(http, ("lighthouse.pdf", PDF, "application/pdf"))
        seen = poll_analysis(http, analyse(http, "lighthouse", ids).json()["uuid"])
    statuses = list(dict.fromkeys(s["status"] for s in seen))
    assert statuses == sorted(statuses, key=ORDER.index) and statuses[-1] == "COMPLETED"
    assert len(statuses) >= 3 and "VISUAL_SUMMARIZATION" not in statuses
    progress = [s["progress"] for s in seen]
    assert progress == sorted(progress) and progress[-1] == 100.0 and progress[0] < 50
    phases = [s["reduction_phase"] for s in seen]
    assert phases == sorted(phases) and phases[-1] == 2


def test_a_document_that_failed_to_ingest_ends_the_analysis_in_error(backend_http):
    good = upload(backend_http, "orchard.docx", DOCX)
    bad = upload(backend_http, "broken.pdf", b"%PDF-1.4 this is not really a PDF")
    assert wait_embedded(backend_http, bad) == "parsing_failed"
    final = poll_analysis(backend_http, analyse(backend_http, "apples", [good, bad]).json()["uuid"])[-1]
    assert final["status"] == "ERROR" and f"Document {bad}" in final["result"]
    status = backend_http.get(f"/api/v2/tools/document-analysis/{final['uuid']}/status/").json()
    assert status["status"] == "ERROR" and status["error"] == final["result"] and status["result"] is None


def test_a_document_deleted_before_the_end_ends_the_analysis_in_error(backend_http):
    file_id = upload(backend_http, "orchard.docx", DOCX)
    key = analyse(backend_http, "apples", [file_id]).json()["uuid"]
    backend_http.delete(f"/api/v2/files/{file_id}")
    final = poll_analysis(backend_http, key)[-1]
    assert final["status"] == "ERROR" and "deleted" in final["result"]


def test_an_analysis_of_a_file_still_ingesting_waits_for_it(make_server):
    server = make_server(ingest_ms=2000, analysis_ms=50)
    with httpx.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=TIMEOUT
    ) as http:
        file_id = upload(http, "lighthouse.pdf", PDF)
        response = analyse(http, "lighthouse", [file_id])
        assert response.status_code == 200
        first = http.get(f"/api/v2/chat/document-analysis/{response.json()['uuid']}").json()
        assert (first["status"], first["progress"]) == ("INITIALIZING", 0.0)
        final = poll_analysis(http, response.json()["uuid"])[-1]
    assert final["status"] == "COMPLETED" and "lighthouse keeper" in final["result"]


@pytest.mark.parametrize(
    "path", ["/api/v2/chat/document-analysis/{}", "/api/v2/tools/document-analysis/{}/status/"]
)
@pytest.mark.parametrize("key", [str(uuid.UUID(int=5)), "12"], ids=["unknown", "not-a-uuid"])
def test_an_unknown_analysis_is_not_found(backend_http, path, key):
    response = backend_http.get(path.format(key))
    assert (response.status_code, response.json()) == (404, {"detail": "Not found."})


@pytest.mark.parametrize(
    "body, field, message",
    [
        pytest.param(
            {"query": "q", "document_ids": []}, "document_ids", "This list may not be empty.", id="none"
        ),
        pytest.param(
            {"query": "q", "document_ids": [1, 2, 3, 4, 5, 6]},
            "document_ids",
            "Ensure this field has no more than 5 elements.",
            id="six",
        ),
        pytest.param({"document_ids": [1]}, "query", "This field is required.", id="no-query"),
        pytest.param(
            {"query": "", "document_ids": [1]}, "query", "This field may not be blank.", id="blank-query"
        ),
        pytest.param({"query": "q"}, "document_ids", "This field is required.", id="no-ids"),
        pytest.param(
            {"query": "q", "document_ids": "1"},
            "document_ids",
            'Expected a list of items but got type "str".',
            id="ids-not-a-list",
        ),
        pytest.param(
            {"query": "q", "document_ids": [1], "private": "maybe"},
            "private",
            "Must be a valid boolean.",
            id="private-not-bool",
        ),
    ],
)
@pytest.mark.parametrize(
    "path", ["/api/v2/chat/document-analysis", "/api/v2/chat/image-analysis"], ids=["document", "image"]
)
def test_bad_input_is_a_400_naming_the_field(backend_http, path, body, field, message):
    response = backend_http.post(path, json=body)
    assert response.status_code == 400
    assert message in str(response.json()[field])


@pytest.mark.parametrize(
    "path", ["/api/v2/chat/document-analysis", "/api/v2/chat/image-analysis"], ids=["document", "image"]
)
def test_a_document_that_does_not_exist_is_a_400_and_nothing_is_stored(backend_http, path):
    file_id = upload(backend_http, "orchard.docx", DOCX)
    response = backend_http.post(path, json={"query": "q", "document_ids": [file_id, 999]})
    assert (response.status_code, response.json()) == (
        400,
        {"document_ids": ['Invalid pk "999" - object does not exist.']},
    )
    if path.endswith("document-analysis"):  # the rejected request took no number: the next one gets the first
        assert analyse(backend_http, "q", [file_id]).json()["chat_session_id"] == 1


def test_an_unknown_model_is_not_found(backend_http):
    file_id = upload(backend_http, "orchard.docx", DOCX)
    response = analyse(backend_http, "q", [file_id], model="no-such-model")
    assert response.status_code == 404 and response.json()["error"]["param"] == "model"


# -- image analysis -----------------------------------------------------------------------------------


def test_png_and_jpeg_uploads_are_ingested_as_images(backend_http):
    png = upload(backend_http, "chart.png", make_image(64, 48, "PNG"))
    jpeg = upload(backend_http, "photo.jpg", make_image(30, 20, "JPEG"))
    assert wait_embedded(backend_http, png) == wait_embedded(backend_http, jpeg) == "embedded"
    assert backend_http.get(f"/api/v2/files/{png}").json()["total_pages"] == 0


def test_image_analysis_describes_the_images(backend_http):
    png = upload(backend_http, "chart.png", make_image(64, 48, "PNG"))
    jpeg = upload(backend_http, "photo.jpg", make_image(30, 20, "JPEG"))
    response = backend_http.post(
        "/api/v2/chat/image-analysis", json={"query": "What do these show?", "document_ids": [png, jpeg]}
    )
    assert response.status_code == 200, response.text
    conforms("api_v2_chat_image_analysis_create", response.json())
    answer = response.json()["answer"]
    assert set(response.json()) == {"answer"} and "What do these show?" in answer
    assert "chart.png is a PNG image of 64x48 pixels" in answer and "JPEG image of 30x20 pixels" in answer


def test_an_image_uploaded_through_v3_is_an_image_too(backend_http):
    response = backend_http.post(
        "/api/v3/files", files={"file": ("scan.jpeg", make_image(12, 34, "JPEG"))}, data={"workspace_id": "1"}
    )
    assert response.status_code in (200, 201), response.text
    answer = backend_http.post(
        "/api/v2/chat/image-analysis", json={"query": "q", "document_ids": [response.json()["id"]]}
    ).json()["answer"]
    assert "scan.jpeg is a JPEG image of 12x34 pixels" in answer


def test_image_analysis_of_a_document_that_is_not_an_image_is_a_400(backend_http):
    pdf = upload(backend_http, "lighthouse.pdf", PDF)
    png = upload(backend_http, "chart.png", make_image(8, 8))
    response = backend_http.post(
        "/api/v2/chat/image-analysis", json={"query": "q", "document_ids": [png, pdf]}
    )
    assert response.status_code == 400
    assert response.json()["document_ids"] == [
        f"Document {pdf} (lighthouse.pdf) is not an image: image analysis reads PNG and JPEG uploads."
    ]


def test_a_truncated_png_is_not_an_image(backend_http):
    broken = upload(backend_http, "broken.png", make_image(40, 40)[:30])
    assert wait_embedded(backend_http, broken) == "parsing_failed"
    response = backend_http.post("/api/v2/chat/image-analysis", json={"query": "q", "document_ids": [broken]})
    assert response.status_code == 400 and "not an image" in response.json()["document_ids"][0]


def test_a_document_analysis_of_an_image_goes_through_the_visual_phases(make_server):
    server = make_server(analysis_ms=1500)
    with httpx.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=TIMEOUT
    ) as http:
        png = upload(http, "chart.png", make_image(64, 48))
        seen = poll_analysis(http, analyse(http, "describe it", [png]).json()["uuid"])
    statuses = [s["status"] for s in seen]
    assert "VISUAL_SUMMARIZATION" in statuses or "VISUAL_SUMMARIZATION_GENERATED" in statuses
    assert "a PNG image of 64x48 pixels" in seen[-1]["result"]


def test_any_worker_of_one_redis_answers_a_poll(make_server):
    """Two servers on one Redis (as two workers are): asked on one, polled on the other, same story."""
    overrides = backend_overrides("redis")
    first, second = make_server(**overrides), make_server(**overrides)
    headers = {"Authorization": f"Bearer {KEY}"}
    with (
        httpx.Client(base_url=first.base_url, headers=headers, timeout=TIMEOUT) as a,
        httpx.Client(base_url=second.base_url, headers=headers, timeout=TIMEOUT) as b,
    ):
        ids = session_upload(a, ("orchard.docx", DOCX, DOCX_TYPE))
        key = analyse(a, "Who pollinates the orchard?", ids).json()["uuid"]
        final = poll_analysis(b, key)[-1]
        assert final["status"] == "COMPLETED" and "Bees pollinate" in final["result"]
        assert a.get(f"/api/v2/chat/document-analysis/{key}").json() == final
