"""The deterministic token generator: a request -> plausible prose, the same bytes every run.

Rules (the README repeats them):

* The text depends only on what shapes it: the model, the messages or prompt,
  ``seed``, ``temperature`` (and ``top_p``, ``suffix``), the emulator's ``--seed``
  and the choice index. Never on ``stream``, ``max_tokens``, ``stop`` or
  ``stream_options``: a stream and a plain call give the same text, and a smaller
  ``max_tokens`` or a ``stop`` gives a prefix of it.
* At ``temperature: 0`` (greedy) every choice is the same text; above it each
  choice index gets its own.
* Every answer has a natural length (an end-of-sequence after a few sentences);
  ``max_tokens``, the context window, or ``ignore_eos`` change where it stops.

Words come from Faker's English word lists, arranged by sentence templates with a
``random.Random`` seeded from a SHA-256 of the canonical request, so the output is
the same on every machine and Python version.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from faker.providers.lorem.en_US import Provider as _EnglishWords

from ..answer import Choice, TokenLogprob
from ..jsonbytes import dumps_sorted
from ..tokenizer import tokenize

_WORDS = {
    kind: tuple(w for w in words if " " not in w) for kind, words in _EnglishWords.parts_of_speech.items()
}
_DETERMINERS = ("the", "a", "every", "this", "each", "our", "their", "that")
_TEMPLATES = (
    ("det", "adjective", "noun", "verb", "det", "noun"),
    ("det", "noun", "adverb", "verb", "det", "adjective", "noun"),
    ("det", "adjective", "noun", "verb", "det", "noun", ",", "adverb"),
    ("adverb", ",", "det", "noun", "verb", "det", "adjective", "noun"),
    ("det", "noun", "verb", "det", "noun", "and", "det", "adjective", "noun"),
    ("det", "adjective", "noun", "adverb", "verb"),
)
MIN_SENTENCES, MAX_SENTENCES = 2, 6
_POOLS = {"det": _DETERMINERS, **_WORDS}


def request_key(*parts: Any) -> bytes:
    """A stable digest of the parts that shape an answer (key order never matters)."""
    return hashlib.sha256(dumps_sorted(parts, str)).digest()


def rng_for(key: bytes, *salt: Any) -> random.Random:
    if salt:
        key = hashlib.sha256(key + json.dumps(salt, default=str).encode()).digest()
    return random.Random(int.from_bytes(key[:16], "big"))


def sentences(rng: random.Random, leading_space: bool = False) -> Iterator[str]:
    """Endless plausible sentences, each with the space that separates it from the last."""
    first = not leading_space
    pick = rng.random  # one C call per word; rng.choice costs three Python calls
    while True:
        words = []
        for slot in _TEMPLATES[int(pick() * len(_TEMPLATES))]:
            pool = _POOLS.get(slot)
            words.append(pool[int(pick() * len(pool))] if pool else slot)
        text = " ".join(words).replace(" ,", ",")
        text = text[0].upper() + text[1:] + "."
        yield text if first else " " + text
        first = False


def sentence_pieces(rng: random.Random, leading_space: bool = False) -> Iterator[tuple[str, ...]]:
    """The same sentences as ``sentences`` (the same draws, the same text), already cut into tokens:
    each word's tokens are read from a table made once, not tokenized (a request's hot path)."""
    first = not leading_space
    pick = rng.random
    templates = _token_templates()
    count = len(templates)
    while True:
        opening, spaced_opening, rest = templates[int(pick() * count)]
        size, table = opening if first else spaced_opening
        pieces = list(table[int(pick() * size)] if size else table)
        for size, table in rest:
            pieces += table[int(pick() * size)] if size else table
        pieces.append(".")
        yield tuple(pieces)
        first = False


# A template's slot as tokens: (the pool's size, each word's tokens), or (0, the tokens of a literal
# word or of a comma, which draw nothing).
_Slot = tuple[int, Any]


@cache
def _token_templates() -> tuple[tuple[_Slot, _Slot, tuple[_Slot, ...]], ...]:
    """Each template as (its opening slot, the same after a sentence, its other slots), every word's
    tokens found once, on the first call (~3,500 words' worth)."""
    def slot(name: str, tokens_of: Callable[[str], tuple[str, ...]]) -> _Slot:
        if name == ",":
            return 0, (",",)  # punctuation follows its word, without a space
        pool = _POOLS.get(name)
        return (len(pool), tuple(map(tokens_of, pool))) if pool else (0, tokens_of(name))

    return tuple((slot(first, lambda word: _capitalised_tokens(word, False)),
                  slot(first, lambda word: _capitalised_tokens(word, True)),
                  tuple(slot(name, _spaced_tokens) for name in rest))
                 for first, *rest in _TEMPLATES)


@cache  # a few thousand words at most
def _spaced_tokens(word: str) -> tuple[str, ...]:
    return tuple(tokenize(" " + word))


@cache
def _capitalised_tokens(word: str, spaced: bool) -> tuple[str, ...]:
    return tuple(tokenize((" " if spaced else "") + word[0].upper() + word[1:]))


@dataclass(frozen=True)
class Limits:
    max_tokens: int  # the most this choice may produce (max_tokens, or what the context window leaves)
    stop: tuple[str, ...] = ()
    ignore_eos: bool = False
    min_tokens: int = 0
    leading_space: bool = False  # a continuation (legacy completions) starts with a space


def generate_text(key: bytes, limits: Limits) -> tuple[list[str], str, str | None]:
    """-> (pieces, finish_reason, stop_reason) for one choice."""
    pieces, finish, stop_reason = _generate_text(key, limits)
    return list(pieces), finish, stop_reason


@lru_cache(maxsize=4096)  # a pure function of its arguments: test suites repeat their requests
def _generate_text(key: bytes, limits: Limits) -> tuple[tuple[str, ...], str, str | None]:
    rng = rng_for(key)
    natural = rng.randint(MIN_SENTENCES, MAX_SENTENCES)
    pieces: list[str] = []
    finish = "length"
    budget = limits.max_tokens
    for number, sentence in enumerate(sentence_pieces(rng, limits.leading_space)):
        if number >= natural and not limits.ignore_eos and len(pieces) >= limits.min_tokens:
            finish = "stop"
            break
        pieces.extend(sentence)
        if len(pieces) >= budget:
            del pieces[budget:]
            finish = "length"
            break
    if limits.stop:
        cut = _cut_at_stop("".join(pieces), limits.stop)
        if cut is not None:
            text, matched = cut
            return tuple(tokenize(text)), "stop", matched
    return tuple(pieces), finish, None


def _cut_at_stop(text: str, stops: Iterable[str]) -> tuple[str, str] | None:
    best: tuple[int, str] | None = None
    for stop in stops:
        if not stop:
            continue
        at = text.find(stop)
        if at >= 0 and (best is None or at < best[0]):
            best = (at, stop)
    if best is None:
        return None
    return text[:best[0]], best[1]


def logprobs_for(key: bytes, pieces: Iterable[str], top: int) -> tuple[TokenLogprob, ...]:
    """Plausible, deterministic logprobs: the chosen token is always the most likely of its tops."""
    rng = rng_for(key, "logprobs")
    result = []
    for piece in pieces:
        chosen = -round(rng.random() * 1.5, 4)
        alternatives = []
        for rank in range(max(top - 1, 0)):
            word = rng.choice(_WORDS["noun"])
            word = (" " + word) if piece.startswith(" ") else word
            alternatives.append((word, round(chosen - 0.5 - rank - rng.random(), 4)))
        tops = ((piece, chosen), *alternatives) if top > 0 else ()
        result.append(TokenLogprob(piece, chosen, _dedupe(tops)))
    return tuple(result)


def _dedupe(tops: tuple[tuple[str, float], ...]) -> tuple[tuple[str, float], ...]:
    seen: dict[str, float] = {}
    for token, logprob in tops:
        seen.setdefault(token, logprob)
    return tuple(seen.items())


def choice(index: int, key: bytes, limits: Limits, logprobs: int | None = None) -> Choice:
    pieces, finish, stop_reason = generate_text(key, limits)
    return Choice(
        index=index, pieces=tuple(pieces), finish_reason=finish, stop_reason=stop_reason,
        logprobs=logprobs_for(key, pieces, logprobs) if logprobs is not None else None,
    )


def cumulative_logprob(key: bytes, choice_: Choice) -> float:
    lps = choice_.logprobs or logprobs_for(key, choice_.pieces, 1)
    return sum(lp.logprob or 0.0 for lp in lps) / max(len(lps), 1) if lps else -math.inf
