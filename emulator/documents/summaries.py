"""Text -> the words that carry its meaning, and the sentences of a document that answer a question.

What the document tools build their deterministic answers from: a query reformulated into its
content words, an analysis drawn from the sentences of each document that share the most words
with the question. No model runs; the same text always gives the same words and sentences.
"""

from __future__ import annotations

import re

# English and French function words, and the question words a reformulation drops.
STOPWORDS = frozenset(
    "a an the of to in on at for from by with and or but not no is are was were be been being it its this "
    "that these those what which who whom whose when where why how do does did can could should would will "
    "shall may might must i you he she we they me my your our their there here about into than then so as "
    "if any all some tell give find show explain describe please us le la les l un une des de du d et ou "
    "est sont que qui quoi quel quelle quels quelles dans sur pour par avec ce cet cette ces il elle on "
    "nous vous ils elles".split())
_WORD = re.compile(r"\w+", re.UNICODE)
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|$)", re.MULTILINE)


def _stem(word: str) -> str:
    """A plural's or a verb's final s dropped (smiles ~ smile), so that forms of a word match."""
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def content_words(text: str) -> list[str]:
    """The words of ``text`` that are not function words, in order, each once (as first written)."""
    seen: set[str] = set()
    out = []
    for word in _WORD.findall(text):
        key = word.lower()
        if key in STOPWORDS or key in seen:
            continue
        seen.add(key)
        out.append(word)
    return out


def _keys(text: str) -> set[str]:
    return {_stem(w.lower()) for w in content_words(text)}


def sentences(text: str) -> list[str]:
    return [" ".join(m.group().split()) for m in _SENTENCE.finditer(text) if m.group().strip()]


def best_sentences(question: str, text: str, count: int = 2) -> list[str]:
    """The ``count`` sentences of ``text`` sharing the most content words with ``question`` (an
    earlier sentence wins a tie), in the order the text has them; the opening ones when none shares
    any."""
    found = sentences(text)
    asked = _keys(question)
    ranked = sorted(range(len(found)), key=lambda i: (-len(asked & _keys(found[i])), i))
    return [found[i] for i in sorted(ranked[:count])]
