"""Every v2 answer whose shape Paradigm's docs give two ways or more, chosen here, once.

Each choice has a setting that switches to the other documented shape (a field of ``Settings``:
a flag and a ``PARADIGM_EMULATOR_*`` variable); the default is the shape the emulator has always
served, so a suite's pinned bytes do not move. The specs' response schemas admit every shape
(``oneOf``). The conversation API's choices are ``conversations/choices.py``'s.

``POST /api/v2/query`` with a single query string (``--query-shape``):

* ``object`` (default): ``{query, chunks}``. The older render of the docs (D4 ``apidocs/apiv2query``,
  "Serializer for the result of a query") describes one result object, and the clients that read
  it (``result["chunks"]``) are written so.
* ``array``: ``[{query, chunks}]``, what the reference table's sources give for every request (D3
  ``extract-chunks-from-knowledge-base``, D4, the third-party clients C2-C4).

A list of query strings answers a list of result objects, in order, whatever the setting.

``POST /api/v2/tokenize`` (``--tokenize-shape``); the three doc versions disagree:

* ``current`` (default): the current spec's six required fields ``{id, model, request_model,
  model_used, tokenizer_type, total_tokens}`` (D2 ``create-text-tokens``), plus ``tokens`` in the
  guide's form ``[{"This": 1182}, ...]``.
* ``guide``: the tokenize guide's example (D3 ``dev-guides/ai-models/tokenize``): ``{id, model,
  tokens: [{"This": 1182}, ...], text, n_tokens}``.
* ``legacy``: the older reference (D4): ``{object: "tokenization", model, tokens: [1182, ...],
  total_tokens, prompt_tokens}``.
"""

from __future__ import annotations

from typing import Any

from ..config import QUERY_SHAPES, TOKENIZE_SHAPES

__all__ = ["QUERY_SHAPES", "TOKENIZE_SHAPES", "query_answer", "tokenize_answer"]


def query_answer(results: list[dict[str, Any]], listed: bool, shape: str) -> Any:
    """The body of /query: ``results`` (one per query), ``listed`` when the request gave a list."""
    return results if listed or shape == "array" else results[0]


def tokenize_answer(shape: str, *, answer_id: str, model: str, request_model: str, text: str,
                    tokens: list[tuple[str, int]]) -> dict[str, Any]:
    """The body of /tokenize: ``tokens`` are (piece, id) in order, ``text`` what was cut."""
    if shape == "guide":
        return {"id": answer_id, "model": model, "tokens": [{piece: i} for piece, i in tokens],
                "text": text, "n_tokens": len(tokens)}
    if shape == "legacy":
        return {"object": "tokenization", "model": model, "tokens": [i for _, i in tokens],
                "total_tokens": len(tokens), "prompt_tokens": len(tokens)}
    return {"id": answer_id, "model": model, "request_model": request_model, "model_used": model,
            "tokenizer_type": "emulator", "total_tokens": len(tokens),
            "tokens": [{piece: i} for piece, i in tokens]}
