"""tokenize, query, document-search and ask-question through real HTTP, and the whole
upload -> poll -> search -> ask loop over v2 and v3."""

from __future__ import annotations

import json
import re
import time

import httpx
import jsonschema
import pytest
from conftest import KEY, frozen_clock
from sample_documents import make_pdf

from emulator.generation.vectors import cosine

POLL_DEADLINE_S = 10.0
DOCUMENTS = {
    "zoo.txt": "The zoo opens at nine. Visitors can see the quokka near the entrance. "
               "Tickets cost ten euros.",
    "office.txt": "The office opens at eight. Visitors sign in at the desk. Parking costs five euros a day.",
    "menu.txt": "The canteen serves lunch at noon. Visitors can eat there. A meal costs seven euros.",
}


def upload_all(http, api: str = "v2") -> dict[str, int]:
    ids = {}
    for name, text in DOCUMENTS.items():
        fields = {"workspace_id": "1"} if api == "v3" else {}
        response = http.post(f"/api/{api}/files", files={"file": (name, text.encode())}, data=fields)
        assert response.status_code == (201 if api == "v3" else 200), response.text
        ids[name] = response.json()["id"]
    return ids


def wait_embedded(http, api: str, file_id: int) -> str:
    deadline = time.monotonic() + POLL_DEADLINE_S
    status = "pending"
    while status in ("pending", "parsing", "embedding") and time.monotonic() < deadline:
        status = http.get(f"/api/{api}/files/{file_id}").json()["status"]
        if status in ("pending", "parsing", "embedding"):
            time.sleep(0.02)
    return status


# -- tokenize --------------------------------------------------------------------------------------

def test_tokenize_counts_what_completions_count_as_usage(http, client, emulator):
    prompt = "Paradigm tokenizes 1234567 words, even unbelievably long ones!"
    tokens = http.post("/api/v2/tokenize", json={"model": "alfred-4.2", "prompt": prompt}).json()
    usage = client.completions.create(model="alfred-4.2", prompt=prompt, max_tokens=1).usage
    assert tokens["total_tokens"] == usage.prompt_tokens == len(tokens["tokens"])
    assert "".join(next(iter(t)) for t in tokens["tokens"]) == prompt
    assert (tokens["model"], tokens["request_model"], tokens["model_used"]) == ("alfred-4.2",) * 3


def test_tokenize_messages_counts_what_chat_counts_as_usage(http, client, emulator):
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there"}]
    tokens = http.post("/api/v2/tokenize", json={"model": "alfred-4.2", "messages": messages}).json()
    usage = client.chat.completions.create(model="alfred-4.2", messages=messages, max_tokens=1).usage
    assert tokens["total_tokens"] == usage.prompt_tokens


@pytest.mark.parametrize("body, status, needle", [
    pytest.param({"model": "multilingual-e5-large", "prompt": "x"}, 400, "embedding models",
                 id="embedding-model"),
    pytest.param({"model": "nope", "prompt": "x"}, 404, "nope", id="unknown-model"),
    pytest.param({"model": "alfred-4.2"}, 400, "prompt", id="neither"),
    pytest.param({"model": "alfred-4.2", "prompt": "x", "messages": []}, 400, "prompt", id="both"),
    pytest.param({"prompt": "x"}, 400, "model", id="no-model"),
])
def test_tokenize_errors(http, emulator, body, status, needle):
    response = http.post("/api/v2/tokenize", json=body)
    assert response.status_code == status
    assert needle in response.text


# -- query -------------------------------------------------------------------------------------------

def test_query_finds_the_only_file_with_the_word_first(http, emulator):
    ids = upload_all(http)
    result = http.post("/api/v2/query", json={"query": "Where is the quokka?", "n": 3}).json()
    chunks = result["chunks"]
    assert result["query"] == "Where is the quokka?"
    assert chunks[0]["metadata"]["document_id"] == ids["zoo.txt"]
    assert [c["score"] for c in chunks] == sorted((c["score"] for c in chunks), reverse=True)
    assert (chunks[0]["collection"], chunks[0]["metadata"]["pages"]) == ("base_collection", [1])


def test_query_score_fuses_the_cosine_of_the_embeddings_with_bm25(http, client, emulator):
    upload_all(http)
    chunk = http.post("/api/v2/query", json={"query": "canteen lunch", "n": 1}).json()["chunks"][0]
    vectors = client.embeddings.create(model="multilingual-e5-large",
                                       input=["canteen lunch", chunk["text"]]).data
    # The best chunk holds the best BM25 score: its lexical half is 1.
    assert chunk["score"] == pytest.approx(0.5 * cosine(vectors[0].embedding, vectors[1].embedding) + 0.5,
                                           abs=1e-5)


def test_query_takes_a_list_and_n(http, emulator):
    upload_all(http)
    results = http.post("/api/v2/query", json={"query": ["parking", "meal"], "n": 2}).json()
    assert [r["query"] for r in results] == ["parking", "meal"]
    assert [r["chunks"][0]["metadata"]["document_name"] for r in results] == ["office.txt", "menu.txt"]
    assert all(len(r["chunks"]) == 2 for r in results)


def test_query_on_an_empty_store_returns_no_chunks(http, emulator):
    found = http.post("/api/v2/query", json={"query": "anything"}).json()
    assert found == {"query": "anything", "chunks": []}
    assert http.post("/api/v2/query", json={"query": ["anything"]}).json() == [found]


@pytest.mark.parametrize("body, field", [
    pytest.param({}, "query", id="missing"),
    pytest.param({"query": ""}, "query", id="blank"),
    pytest.param({"query": "x", "n": 0}, "n", id="n-zero"),
    pytest.param({"query": "x", "n": "many"}, "n", id="n-type"),
])
def test_query_errors_name_the_field(http, emulator, body, field):
    response = http.post("/api/v2/query", json=body)
    assert response.status_code == 400
    assert field in response.json()


def test_the_page_of_a_pdf_extract_is_the_page_holding_the_word(http, emulator):
    http.post("/api/v2/files", files={"file": ("guide.pdf", make_pdf(["Introduction to the guide",
                                                                     "Chapter about axolotls",
                                                                     "Closing remarks"]))})
    chunk = http.post("/api/v2/query", json={"query": "axolotls", "n": 1}).json()["chunks"][0]
    assert (chunk["metadata"]["pages"], chunk["metadata"]["total_pages"]) == ([2], 3)


# -- document search ------------------------------------------------------------------------------

def test_document_search_answers_from_the_best_extract(http, emulator):
    ids = upload_all(http)
    body = http.post("/api/v2/chat/document-search", json={"query": "Where can visitors see the quokka?"})
    body = body.json()
    assert body["answer"].startswith("According to zoo.txt (page 1): "
                                     "Visitors can see the quokka near the entrance.")
    assert body["documents"][0]["id"] == ids["zoo.txt"]
    extract = body["documents"][0]["document_extracts"][0]
    assert extract["text"] == DOCUMENTS["zoo.txt"]
    assert set(extract["metadata"]) == {"ID", "pages", "total_pages"}
    assert (body["model"], body["user_instructions"]) == ("alfred-4.2", "")
    assert set(body["chat_settings"]) == {"company", "instruction"}
    assert isinstance(body["chat_session_id"], int)


def test_document_search_is_deterministic(http, emulator):
    upload_all(http)
    first = http.post("/api/v2/chat/document-search", json={"query": "price of a meal"}).json()
    assert http.post("/api/v2/chat/document-search", json={"query": "price of a meal"}).json() == first


def test_document_search_with_nothing_relevant_says_so(http, emulator):
    upload_all(http)
    body = http.post("/api/v2/chat/document-search", json={"query": "xylophone"}).json()
    assert body["answer"] == "I could not find the answer to this question in the documents."


def test_document_search_honours_file_ids(http, emulator):
    ids = upload_all(http)
    body = http.post("/api/v2/chat/document-search",
                     json={"query": "quokka", "file_ids": [ids["office.txt"]], "chat_session_id": 7}).json()
    assert [d["name"] for d in body["documents"]] == ["office.txt"]
    assert body["chat_session_id"] == 7


@pytest.mark.parametrize("search, expected", [
    pytest.param({"workspace_ids": [3]}, ["legal.txt"], id="workspace"),
    pytest.param({"private_scope": True}, ["mine.txt"], id="private"),
    pytest.param({"company_scope": True}, ["company.txt"], id="company"),
    pytest.param({"workspace_ids": [3], "company_scope": True}, ["company.txt", "legal.txt"], id="mixed"),
    pytest.param({}, ["company.txt", "legal.txt", "mine.txt"], id="everything"),
])
def test_document_search_honours_workspaces_and_scopes(http, emulator, search, expected):
    http.post("/api/v2/files", files={"file": ("mine.txt", b"budget notes")})
    http.post("/api/v2/files", files={"file": ("company.txt", b"budget policy")},
              data={"collection_type": "company"})
    http.post("/api/v3/files", files={"file": ("legal.txt", b"budget contract")}, data={"workspace_id": "3"})
    body = http.post("/api/v2/chat/document-search", json={"query": "budget", **search}).json()
    assert sorted(d["name"] for d in body["documents"]) == expected


GUIDED_SCHEMA = {"type": "object", "properties": {"days": {"type": "integer", "minimum": 1}},
                 "required": ["days"], "additionalProperties": False}


@pytest.mark.parametrize(
    "extra, check",
    [
        pytest.param({"guided_choice": ["yes", "no"]}, lambda answer: answer in ("yes", "no"), id="choice"),
        pytest.param(
            {"guided_regex": "[0-9]{2}-[A-Z]{3}"},
            lambda answer: re.fullmatch("[0-9]{2}-[A-Z]{3}", answer) is not None,
            id="regex",
        ),
        pytest.param(
            {"guided_json": GUIDED_SCHEMA},
            lambda answer: jsonschema.validate(json.loads(answer), GUIDED_SCHEMA) is None,
            id="json",
        ),
        pytest.param(
            {"guided_json": json.dumps(GUIDED_SCHEMA)},
            lambda answer: jsonschema.validate(json.loads(answer), GUIDED_SCHEMA) is None,
            id="json-text",
        ),
    ],
)
def test_document_search_applies_guided_decoding_to_its_answer(http, emulator, extra, check):
    upload_all(http)
    body = {"query": "Where can visitors see the quokka?", "extra_body": extra}

    first = http.post("/api/v2/chat/document-search", json=body)

    assert first.status_code == 200, first.text
    assert check(first.json()["answer"])
    assert first.json()["documents"][0]["name"] == "zoo.txt"  # the search itself is unchanged
    assert http.post("/api/v2/chat/document-search", json=body).json() == first.json()


def test_document_search_with_an_unreadable_guided_json_is_a_400(http, emulator):
    response = http.post(
        "/api/v2/chat/document-search", json={"query": "x", "extra_body": {"guided_json": "not json"}}
    )
    assert response.status_code == 400
    assert "guided_json" in response.text


@pytest.mark.parametrize(
    "body, status, field",
    [
        pytest.param({"query": "x", "file_ids": [99]}, 400, "file_ids", id="unknown-file"),
        pytest.param({"query": "x", "workspace_ids": [99]}, 400, "workspace_ids", id="unknown-workspace"),
        pytest.param({"query": "x", "file_ids": ["a"]}, 400, "file_ids", id="wrong-type"),
        pytest.param({"query": "x", "extra_body": {"temperature": 1}}, 400, "extra_body", id="extra-body"),
        pytest.param({"query": "x", "tool": "Web"}, 400, "tool", id="tool-choice"),
        pytest.param({}, 400, "query", id="no-query"),
        pytest.param({"query": "x", "model": "nope"}, 404, "error", id="unknown-model"),
        pytest.param({"query": "x", "model": "multilingual-e5-large"}, 400, "error", id="embedding-model"),
    ],
)
def test_document_search_errors(http, emulator, body, status, field):
    response = http.post("/api/v2/chat/document-search", json=body)
    assert response.status_code == status
    assert field in response.json()


def test_search_before_ingestion_finished_sees_what_is_embedded_so_far(make_server):
    server = make_server(ingest_ms=1000)
    now = [0.0]
    server.emulator.state.now = frozen_clock(now)
    with httpx.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=10
    ) as http:
        http.post("/api/v2/files", files={"file": ("early.txt", b"penguins live in the south")})
        now[0] = 0.9
        http.post("/api/v2/files", files={"file": ("late.txt", b"penguins cannot fly")})
        now[0] = 1.0
        found = http.post("/api/v2/query", json={"query": "penguins"}).json()["chunks"]
        assert [c["metadata"]["document_name"] for c in found] == ["early.txt"]
        searched = http.post("/api/v2/chat/document-search", json={"query": "penguins"}).json()
        assert [d["name"] for d in searched["documents"]] == ["early.txt"]
        now[0] = 2.0
        found = http.post("/api/v2/query", json={"query": "penguins"}).json()["chunks"]
        assert sorted(c["metadata"]["document_name"] for c in found) == ["early.txt", "late.txt"]


# -- ask a document -----------------------------------------------------------------------------------


def test_ask_question_answers_from_that_document_only(http, emulator):
    ids = upload_all(http)
    body = http.post(
        f"/api/v2/files/{ids['menu.txt']}/ask-question", json={"question": "What does a meal cost?"}
    )
    assert body.json()["answer"] == "According to menu.txt (page 1): A meal costs seven euros."
    assert {e["text"] for e in body.json()["document_extracts"]} == {DOCUMENTS["menu.txt"]}


@pytest.mark.parametrize(
    "path, body, status",
    [
        pytest.param("/api/v2/files/99/ask-question", {"question": "x"}, 404, id="unknown-file"),
        pytest.param("/api/v2/files/1/ask-question", {}, 400, id="no-question"),
        pytest.param("/api/v2/files/1/ask-question", {"question": 3}, 400, id="wrong-type"),
    ],
)
def test_ask_question_errors(http, emulator, path, body, status):
    http.post("/api/v2/files", files={"file": ("a.txt", b"a")})
    assert http.post(path, json=body).status_code == status


# -- the whole loop --------------------------------------------------------------------------------------


@pytest.mark.parametrize("api", ["v2", "v3"])
def test_upload_poll_search_ask_loop(http, emulator, api):
    ids = upload_all(http, api)
    assert {wait_embedded(http, api, i) for i in ids.values()} == {"embedded"}
    searched = http.post("/api/v2/chat/document-search", json={"query": "Tell me about parking"}).json()
    assert searched["documents"][0]["id"] == ids["office.txt"]
    assert "Parking costs five euros a day." in searched["answer"]
    asked = http.post(
        f"/api/v2/files/{ids['zoo.txt']}/ask-question", json={"question": "When does the zoo open?"}
    )
    assert asked.json()["answer"] == "According to zoo.txt (page 1): The zoo opens at nine."
