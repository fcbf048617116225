"""Text -> the words that carry its meaning, and the sentences of a document that answer a question.

The one home of the document tools' words: the stop-word list, the content words, the sentence
splitter, and the answer composer that v2's document search, ask-question and a v3 turn's
document search all quote from. A query is reformulated into its content words, an analysis is
drawn from the sentences of each document that share the most words with the question, an
answer quotes the best extract's best sentence. No model runs; the same text always gives the
same words and sentences.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

# English and French function words, and the question words a reformulation drops.
STOPWORDS = frozenset(
    "a an the of to in on at for from by with and or but not no is are was were be been being it its this "
    "that these those what which who whom whose when where why how do does did can could should would will "
    "shall may might must i you he she we they me my your our their there here about into than then so as "
    "if any all some tell give find show explain describe please us le la les l un une des de du d et ou "
    "est sont que qui quoi quel quelle quels quelles dans sur pour par avec ce cet cette ces il elle on "
    "nous vous ils elles".split())
NO_ANSWER = "I could not find the answer to this question in the documents."
_WORD = re.compile(r"\w+", re.UNICODE)
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|$)", re.MULTILINE)


class Quotable(Protocol):
    """An extract an answer can quote: a search's ``Hit``, a turn's ``Passage``."""

    @property
    def file_id(self) -> int: ...

    @property
    def filename(self) -> str: ...

    @property
    def page(self) -> int: ...

    @property
    def text(self) -> str: ...


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


def content_keys(text: str) -> set[str]:
    """The content words of ``text``, lowercased and stemmed: what two texts are compared on."""
    return {_stem(w.lower()) for w in content_words(text)}


def split_sentences(text: str) -> list[str]:
    """Every sentence of ``text``, its whitespace collapsed (a blank one as "")."""
    return [" ".join(m.group().split()) for m in _SENTENCE.finditer(text)]


def sentences(text: str) -> list[str]:
    """The sentences of ``text`` that hold something, their whitespace collapsed."""
    return [s for s in split_sentences(text) if s]


def best_sentences(question: str, text: str, count: int = 2) -> list[str]:
    """The ``count`` sentences of ``text`` sharing the most content words with ``question`` (an
    earlier sentence wins a tie), in the order the text has them; the opening ones when none shares
    any."""
    found = sentences(text)
    asked = content_keys(question)
    ranked = sorted(range(len(found)), key=lambda i: (-len(asked & content_keys(found[i])), i))
    return [found[i] for i in sorted(ranked[:count])]


def compose_answer(question: str, extracts: Sequence[Quotable]) -> tuple[str, set[int]]:
    """The sentence of the extracts sharing the most words with the question (the better-ranked
    extract wins a tie), quoted with its document and page; another document that also answers is
    named. -> (the answer, the ids of the files it cites)."""
    asked = content_keys(question)
    answering: list[tuple[int, int, str, Quotable]] = []  # (words shared, -rank, sentence, extract)
    for rank, extract in enumerate(extracts):
        found = split_sentences(extract.text)
        shared = [len(asked & content_keys(s)) for s in found]
        most = max(shared, default=0)
        if most:
            answering.append((most, -rank, found[shared.index(most)], extract))
    if not answering:
        return NO_ANSWER, set()
    _, _, sentence, best = max(answering, key=lambda a: (a[0], a[1]))
    text = f"According to {best.filename} (page {best.page}): {sentence}"
    cited = {best.file_id}
    other = next((a[3] for a in answering if a[3].file_id != best.file_id), None)
    if other is not None:
        text += f" See also {other.filename} (page {other.page})."
        cited.add(other.file_id)
    return text, cited
