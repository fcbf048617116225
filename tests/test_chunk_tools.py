"""filter/chunks, query/reformulation and v3 retrieve through real HTTP, on both state backends: the
flows upload -> chunks -> filter and upload -> retrieve (the right document first), the documented
shapes (checked against the served spec), and the refusals."""

from __future__ import annotations

import random
import uuid

import pytest
from document_api import conforms, upload, wait_embedded
from sample_documents import make_docx, make_pdf

FILLER = (
    "The committee met on Tuesday to review the quarterly figures and the travel budget. "
    "Minutes were approved and the next meeting was set for the first week of the month. "
)


def three_documents(http, word: str, holder: int = 1) -> list[int]:
    """A PDF, a DOCX and a text file of the same filler; only the ``holder``-th mentions ``word``."""
    texts = [FILLER * 3, FILLER * 3, FILLER * 3]
    texts[holder] = FILLER + f"The auditors flagged the {word} account for review. " + FILLER
    ids = [
        upload(http, "minutes.pdf", make_pdf([texts[0]])),
        upload(
            http,
            "budget.docx",
            make_docx([[texts[1]]]),
        ),
        upload(http, "notes.txt", texts[2].encode()),
    ]
    assert [wait_embedded(http, i) for i in ids] == ["embedded"] * 3
    return ids


def chunk_ids_of(http, file_ids: list[int]) -> list[str]:
    """Every chunk of the files, in order, as GET /api/v2/files/{id}/chunks gives them."""
    found = []
    for file_id in file_ids:
        response = http.get(f"/api/v2/files/{file_id}/chunks")
        assert response.status_code == 200, response.text
        found += [c["uuid"] for c in response.json()["chunks"]]
    return found


# -- query/reformulation ----------------------------------------------------------------------------


def test_reformulation_keeps_the_content_words(backend_http):
    response = backend_http.post(
        "/api/v2/query/reformulation",
        json={"query": "What is the refund policy of ACME?", "model": "alfred-4.2"},
    )
    assert response.status_code == 200
    assert response.json() == [
        {"query": "What is the refund policy of ACME?", "reformulation": "refund policy ACME"}
    ]
    conforms("api_v2_query_reformulation_create", response.json())


def test_reformulation_of_a_list_answers_each_in_order(backend_http):
    queries = [f"How do I renew passport number {i}?" for i in range(10)]
    response = backend_http.post("/api/v2/query/reformulation", json={"query": queries})
    assert [r["query"] for r in response.json()] == queries
    assert response.json()[3]["reformulation"] == "renew passport number 3"


def test_reformulation_is_deterministic(backend_http):
    body = {"query": ["Where are the minutes of the meeting?", "Quel est le budget du projet ?"]}
    assert (
        backend_http.post("/api/v2/query/reformulation", json=body).content
        == backend_http.post("/api/v2/query/reformulation", json=body).content
    )


@pytest.mark.parametrize(
    "body, field, message",
    [
        pytest.param(
            {"query": ["q"] * 11}, "query", "Ensure this field has no more than 10 elements.", id="eleven"
        ),
        pytest.param({"query": []}, "query", "This list may not be empty.", id="empty-list"),
        pytest.param({"query": ""}, "query", "This field may not be blank.", id="blank"),
        pytest.param({"query": "   "}, "query", "This field may not be blank.", id="spaces"),
        pytest.param({"model": "alfred-4.2"}, "query", "This field is required.", id="missing"),
        pytest.param({"query": 3}, "query", 'Invalid value of type "int".', id="number"),
    ],
)
def test_bad_reformulation_input_is_a_400_naming_the_field(backend_http, body, field, message):
    response = backend_http.post("/api/v2/query/reformulation", json=body)
    assert (response.status_code, response.json()) == (400, {field: [message]})


@pytest.mark.parametrize(
    "path, body",
    [
        pytest.param("/api/v2/query/reformulation", {"query": "q"}, id="reformulation"),
        pytest.param(
            "/api/v2/filter/chunks", {"query": "q", "chunk_ids": [str(uuid.UUID(int=1))]}, id="filter"
        ),
    ],
)
def test_an_unknown_model_is_not_found(backend_http, path, body):
    response = backend_http.post(path, json={**body, "model": "no-such-model"})
    assert response.status_code == 404 and response.json()["error"]["param"] == "model"


# -- filter/chunks ------------------------------------------------------------------------------------


def test_upload_chunks_filter_puts_the_relevant_chunk_first(backend_http):
    ids = three_documents(backend_http, "zephyrine", holder=2)
    chunk_ids = chunk_ids_of(backend_http, ids)
    assert len(chunk_ids) >= 3
    response = backend_http.post(
        "/api/v2/filter/chunks",
        json={"query": "Which account did the auditors flag? zephyrine", "chunk_ids": chunk_ids},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    conforms("api_v2_filter_chunks_create", body)
    assert {c["uuid"] for c in body["chunks"]} == set(chunk_ids)
    assert "zephyrine" in body["chunks"][0]["text"] and body["chunks"][0]["metadata"]["document_id"] == ids[2]
    scores = [c["filter_score"] for c in body["chunks"]]
    assert scores == sorted(scores, reverse=True)


def test_filter_n_keeps_the_first_n(backend_http):
    ids = three_documents(backend_http, "quillwort")
    chunk_ids = chunk_ids_of(backend_http, ids)
    body = backend_http.post(
        "/api/v2/filter/chunks", json={"query": "quillwort", "chunk_ids": chunk_ids, "n": 1}
    ).json()
    assert len(body["chunks"]) == 1 and "quillwort" in body["chunks"][0]["text"]
    assert body["query"] == "quillwort"


def test_filter_scores_are_the_search_scores(backend_http):
    ids = three_documents(backend_http, "marram")
    found = backend_http.post("/api/v2/query", json={"query": "marram", "n": 3}).json()
    found = found if isinstance(found, dict) else found[0]
    chunk_ids = [c["uuid"] for c in found["chunks"]]
    body = backend_http.post("/api/v2/filter/chunks", json={"query": "marram", "chunk_ids": chunk_ids}).json()
    assert [c["uuid"] for c in body["chunks"]] == chunk_ids
    assert [c["filter_score"] for c in body["chunks"]] == [c["score"] for c in found["chunks"]]
    assert body["chunks"][0]["metadata"]["document_id"] == ids[1]


@pytest.mark.parametrize(
    "chunk_ids, expected",
    [
        pytest.param(["not-a-uuid"], {"chunk_ids": {"0": ["Must be a valid UUID."]}}, id="not-a-uuid"),
        pytest.param(
            [str(uuid.UUID(int=9))],
            {"chunk_ids": [f'Invalid pk "{uuid.UUID(int=9)}" - object does not exist.']},
            id="unknown",
        ),
        pytest.param([], {"chunk_ids": ["This list may not be empty."]}, id="empty"),
        pytest.param("abc", {"chunk_ids": ['Expected a list of items but got type "str".']}, id="not-a-list"),
    ],
)
def test_bad_chunk_ids_are_a_400_naming_the_field(backend_http, chunk_ids, expected):
    response = backend_http.post("/api/v2/filter/chunks", json={"query": "q", "chunk_ids": chunk_ids})
    assert (response.status_code, response.json()) == (400, expected)


def test_a_blank_query_in_a_list_is_named_by_its_index(backend_http):
    response = backend_http.post("/api/v2/query/reformulation", json={"query": ["fine", " "]})
    assert (response.status_code, response.json()) == (
        400,
        {"query": {"1": ["This field may not be blank."]}},
    )


def test_integral_floats_are_integers_as_drf_reads_them(backend_http):
    file_id = upload(backend_http, "heron.txt", b"The heron colony nests by the lake.")
    chunk = backend_http.get(f"/api/v2/files/{file_id}/chunks").json()["chunks"][0]["uuid"]
    retrieved = backend_http.post("/api/v3/retrieve", json={"query": "heron", "top_k": 5.0})
    filtered = backend_http.post(
        "/api/v2/filter/chunks", json={"query": "heron", "chunk_ids": [chunk], "n": 1.0}
    )
    assert (retrieved.status_code, filtered.status_code) == (200, 200)
    assert retrieved.json()["results"][0]["chunk"]["uuid"] == filtered.json()["chunks"][0]["uuid"] == chunk


def test_filter_without_a_query_or_with_n_zero_is_a_400(backend_http):
    one = [str(uuid.UUID(int=1))]
    assert backend_http.post("/api/v2/filter/chunks", json={"chunk_ids": one}).json() == {
        "query": ["This field is required."]
    }
    assert backend_http.post(
        "/api/v2/filter/chunks", json={"query": "q", "chunk_ids": one, "n": 0}
    ).json() == {"n": ["Ensure this value is greater than or equal to 1."]}


# -- v3 retrieve --------------------------------------------------------------------------------------


@pytest.mark.parametrize("holder", [0, 1, 2], ids=["pdf", "docx", "txt"])
def test_retrieve_ranks_the_document_with_the_rare_word_first(backend_http, holder):
    word = "".join(
        random.Random(holder).choice("bcdfghklmnprstvz") + random.Random(holder + 9).choice("aeiou")
        for _ in range(4)
    )
    ids = three_documents(backend_http, word, holder=holder)
    response = backend_http.post("/api/v3/retrieve", json={"query": f"which account is {word}?", "top_k": 5})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    conforms("api_v3_retrieve_create", response.json())
    assert results[0]["document"]["id"] == ids[holder] and word in results[0]["chunk"]["text"]
    assert results[0]["scoring"]["lexical_score"] > 0
    assert all(r["scoring"]["lexical_score"] == 0 for r in results[1:])


def test_retrieve_carries_the_documented_fields(backend_http):
    file_id = upload(
        backend_http, "budget.docx", make_docx([[FILLER], ["The dunlin survey is on page two."]])
    )
    wait_embedded(backend_http, file_id)
    result = backend_http.post("/api/v3/retrieve", json={"query": "dunlin survey"}).json()["results"][0]
    assert result["chunk"]["chunk_type"] == "text" and result["chunk"]["metadata"] == {
        "pages": "2",
        "total_pages": "2",
    }
    assert result["chunk"]["content_id"] == f"content_id_{result['chunk']['uuid']}"
    scoring = result["scoring"]
    assert 0 <= scoring["distance"] <= 2 and 0 <= scoring["certainty"] <= 1
    assert scoring["distance"] == pytest.approx(2 * (1 - scoring["certainty"]), abs=1e-5)
    document = result["document"]
    assert (
        document["id"],
        document["name"],
        document["file_type"],
        document["status"],
        document["total_pages"],
    ) == (file_id, "budget.docx", "docx", "embedded", 2)
    assert set(result["workspace"]) == {"id", "name", "workspace_type"}


def test_retrieve_top_k_bounds_the_results_and_mode_vision_names_the_chunks(backend_http):
    for number in range(4):
        upload(backend_http, f"note{number}.txt", f"Note {number} about the heron colony.".encode())
    results = backend_http.post(
        "/api/v3/retrieve", json={"query": "heron", "top_k": 2, "mode": "vision"}
    ).json()["results"]
    assert len(results) == 2 and {r["chunk"]["chunk_type"] for r in results} == {"vision"}


def test_retrieve_scopes_limit_the_files(backend_http):
    private = upload(backend_http, "mine.txt", b"The avocet nests here.")
    company = upload(backend_http, "ours.txt", b"The avocet nests there too.", collection_type="company")
    wait_embedded(backend_http, private), wait_embedded(backend_http, company)

    def found(**scope) -> set[int]:
        response = backend_http.post("/api/v3/retrieve", json={"query": "avocet", **scope})
        assert response.status_code == 200, response.text
        return {r["document"]["id"] for r in response.json()["results"]}

    assert found() == {private, company}
    assert found(file_ids=[company]) == {company}
    assert found(private_scope=True) == {private}
    assert found(company_scope=True) == {company}


@pytest.mark.parametrize(
    "body, field, message",
    [
        pytest.param(
            {"query": "q", "top_k": 0},
            "top_k",
            "Ensure this value is greater than or equal to 1.",
            id="top-k-0",
        ),
        pytest.param(
            {"query": "q", "top_k": 101},
            "top_k",
            "Ensure this value is less than or equal to 100.",
            id="top-k-101",
        ),
        pytest.param({"query": "q", "mode": "audio"}, "mode", '"audio" is not a valid choice.', id="mode"),
        pytest.param({"top_k": 3}, "query", "This field is required.", id="no-query"),
        pytest.param(
            {"query": "q", "file_ids": [424242]},
            "file_ids",
            'Invalid pk "424242" - object does not exist.',
            id="unknown-file",
        ),
        pytest.param(
            {"query": "q", "workspace_ids": [424242]},
            "workspace_ids",
            'Invalid pk "424242" - object does not exist.',
            id="unknown-workspace",
        ),
    ],
)
def test_bad_retrieve_input_is_a_400_naming_the_field(backend_http, body, field, message):
    response = backend_http.post("/api/v3/retrieve", json=body)
    assert (response.status_code, response.json()) == (400, {field: [message]})


def test_retrieve_with_nothing_uploaded_finds_nothing(backend_http):
    assert backend_http.post("/api/v3/retrieve", json={"query": "anything"}).json() == {"results": []}
