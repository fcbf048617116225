"""Counts and splits tokens, offline.

A small word-piece tokenizer in the spirit of GPT-2's pre-tokenizer: a word with
its leading space is one token, digits go by groups of three, punctuation runs
are one token, and a word longer than ``MAX_PIECE`` letters is cut into pieces of
``MAX_PIECE`` letters (the first keeps the space). One regular expression does it
all, so counting a prompt costs one ``findall``.
It downloads nothing and gives the same answer on every machine; ``usage``,
``max_tokens``, the context window, logprobs and ``/tokenize`` all use it, so
they always agree with each other.

A token is at most ``MAX_TOKEN_CHARS`` characters, so a text longer than that many times a
limit is over it from its length alone: ``count_capped`` refuses it without counting, and
counts the rest in pieces, stopping as soon as the count passes the limit (the number it
gives then is the count so far: more than the limit, not the whole text's). Large texts are
counted in a worker thread, a piece at a time, so the event loop answers others in between.
"""

from __future__ import annotations

import asyncio
import json
import re
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

MAX_PIECE = 8
VOCAB_SIZE = 65_536
_PATTERN = re.compile(
    rf" ?[^\W\d_]{{1,{MAX_PIECE}}}| ?\d{{1,3}}| ?[^\s\w]{{1,{MAX_PIECE}}}|\s{{1,{MAX_PIECE}}}(?!\S)"
    rf"|\s{{1,{MAX_PIECE}}}|_{{1,{MAX_PIECE}}}")


MAX_TOKEN_CHARS = MAX_PIECE + 1  # the longest token: a space and MAX_PIECE letters
PIECE_CHARS = 32_768  # counted in one C call (about 2 ms), then the GIL goes round
OFF_LOOP_CHARS = 131_072  # texts longer than this in all are counted in a worker thread
# Where a text can be cut without changing its tokens: between a non-space and a space (no token
# crosses that point, and the pattern looks ahead one character at most, which is the space).
_CUT = re.compile(r"\S(?=\s)")


def tokenize(text: str) -> list[str]:
    return _PATTERN.findall(text)


def count(text: str) -> int:
    return len(_PATTERN.findall(text))


def count_capped(text: str, limit: int) -> int:
    """The token count of ``text`` when it is at most ``limit``; else a number above ``limit`` (the
    count stopped there, or the text is certainly over from its length alone)."""
    if len(text) > MAX_TOKEN_CHARS * limit:
        return -(-len(text) // MAX_TOKEN_CHARS)  # every token is at most MAX_TOKEN_CHARS characters
    if len(text) <= PIECE_CHARS:
        return len(_PATTERN.findall(text))
    total, start = 0, 0
    while start < len(text) and total <= limit:
        cut = _CUT.search(text, start + PIECE_CHARS)
        end = cut.end() if cut is not None else len(text)
        total += len(_PATTERN.findall(text, start, end))
        start = end
    return total


async def count_within(texts: Sequence[Any], limit: int) -> list[int]:
    """``count_capped`` of each text (a list of token ids counts its length) up to the first one over
    ``limit``, which ends the list (the caller refuses the request there); in a worker thread when the
    texts are long in all, so that the event loop serves other clients meanwhile."""
    def counts() -> list[int]:
        found = []
        for text in texts:
            found.append(len(text) if isinstance(text, list) else count_capped(text, limit))
            if found[-1] > limit:
                break
        return found

    size = sum(len(t) for t in texts if isinstance(t, str))
    return await asyncio.to_thread(counts) if size > OFF_LOOP_CHARS else counts()


def token_id(piece: str) -> int:
    """A stable id for a piece (the same on every run and machine)."""
    return zlib.crc32(piece.encode("utf-8")) % VOCAB_SIZE


def encode(text: str) -> list[int]:
    return [token_id(p) for p in tokenize(text)]


def message_text(content: Any) -> str:
    """A message's content as text: a string, or the text parts of a structured list."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict):
                text = part.get("text")
                parts.append(text if isinstance(text, str) else json.dumps(part, sort_keys=True))
            else:
                parts.append(str(part))
        return "\n".join(parts)
    return json.dumps(content, sort_keys=True)


def last_user_message(body: Any) -> str | None:
    """The text of the last user message (chat), else the last prompt or input text (completions,
    embeddings); None when there is none. Fixtures' ``last_user_message`` and the plugin's recorded
    requests both read it here, so a fixture and an assertion never disagree about it."""
    if not isinstance(body, dict):
        return None
    messages = body.get("messages")
    messages = [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []
    if messages:
        users = [m for m in messages if m.get("role") == "user"]
        return message_text(users[-1].get("content")) if users else None
    for key in ("prompt", "input", "query"):  # query: a v3 turn's
        value = body.get(key)
        if isinstance(value, str):
            return value
        if isinstance(value, list):
            texts = [v for v in value if isinstance(v, str)]
            return texts[-1] if texts else None
    return None


def chat_prompt(messages: Iterable[dict]) -> str:
    """The prompt a chat template makes of the messages (ChatML-like); its token count is
    the ``prompt_tokens`` of a chat completion."""
    return "".join(_chat_prompt_parts(messages))


async def count_prompt_within(messages: Iterable[dict], limit: int) -> int:
    """``count_within`` of the chat prompt of ``messages``: a prompt certainly over ``limit`` from its
    length alone is refused without being built (a 25 MB prompt is not copied once more)."""
    parts = _chat_prompt_parts(messages)
    size = sum(len(part) for part in parts)
    if size > MAX_TOKEN_CHARS * limit:
        return -(-size // MAX_TOKEN_CHARS)  # what count_capped says of the built prompt
    (tokens,) = await count_within(["".join(parts)], limit)
    return tokens


def _chat_prompt_parts(messages: Iterable[dict]) -> list[str]:
    parts = []
    for message in messages:
        if not isinstance(message, dict):
            continue
        parts += [f"<|{message.get('role', 'user')}|>\n", message_text(message.get("content"))]
        extras = [message[k] for k in ("tool_calls", "function_call") if message.get(k)]
        if extras:
            parts.append(json.dumps(extras, sort_keys=True))
        parts.append("<|end|>\n")
    parts.append("<|assistant|>\n")
    return parts
