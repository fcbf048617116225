"""The offline tokenizer: usage, max_tokens, the context window and logprobs all count with it."""

from __future__ import annotations

import pytest

from emulator.tokenizer import (
    MAX_PIECE,
    VOCAB_SIZE,
    chat_prompt,
    count,
    encode,
    message_text,
    token_id,
    tokenize,
)


@pytest.mark.parametrize(
    "text, pieces",
    [
        pytest.param("", [], id="empty"),
        pytest.param("Hello world", ["Hello", " world"], id="words-keep-their-space"),
        pytest.param("Hello, world!", ["Hello", ",", " world", "!"], id="punctuation"),
        pytest.param("1234567", ["123", "456", "7"], id="digits-by-three"),
        pytest.param("internationalization", ["internat", "ionaliza", "tion"], id="long-word-cut"),
        pytest.param("a  b", ["a", " ", " b"], id="double-space"),
        pytest.param("line\nnext", ["line", "\n", "next"], id="newline"),
        pytest.param("snake_case", ["snake", "_", "case"], id="underscore"),
        pytest.param("café 東京", ["café", " 東京"], id="unicode-letters"),
    ],
)
def test_tokenize(text, pieces):
    assert tokenize(text) == pieces


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Hello, world!",
        "x" * 50,
        " lead and trail ",
        "tabs\tand\n\nnewlines",
        "emoji 🙂 and 1,234.56",
        "日本語のテキスト",
    ],
)
def test_pieces_join_back_to_the_text(text):
    assert "".join(tokenize(text)) == text


def test_no_piece_is_longer_than_the_limit():
    text = "supercalifragilisticexpialidocious " * 3 + "!!!!!!!!!!!!!!!!!!!" + " " * 20 + "end"
    assert max(len(piece.lstrip(" ")) for piece in tokenize(text)) <= MAX_PIECE


def test_count_is_the_number_of_pieces():
    text = "The quick brown fox, 2024 edition."
    assert count(text) == len(tokenize(text)) == 9


def test_token_ids_are_stable_and_in_the_vocabulary():
    ids = encode("Stable ids, every run")
    assert ids == [token_id(p) for p in tokenize("Stable ids, every run")]
    assert all(0 <= i < VOCAB_SIZE for i in ids)
    assert token_id("hello") == token_id("hello") != token_id(" hello")


@pytest.mark.parametrize(
    "content, text",
    [
        pytest.param("plain", "plain", id="string"),
        pytest.param(None, "", id="none"),
        pytest.param([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}], "a\nb", id="text-parts"),
        pytest.param(
            [{"type": "image_url", "image_url": {"url": "x"}}],
            '{"image_url": {"url": "x"}, "type": "image_url"}',
            id="non-text-part",
        ),
    ],
)
def test_message_text(content, text):
    assert message_text(content) == text


def test_chat_prompt_is_a_chatml_like_template():
    prompt = chat_prompt([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])
    assert prompt == "<|system|>\nBe brief.<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\n"


def test_chat_prompt_counts_tool_calls_and_skips_garbage():
    calls = [{"id": "1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
    with_calls = chat_prompt([{"role": "assistant", "content": None, "tool_calls": calls}, "not a message"])
    assert '"name": "f"' in with_calls and "not a message" not in with_calls


def test_count_capped_is_exact_up_to_the_limit_and_stops_past_it():
    import random

    from emulator.tokenizer import MAX_TOKEN_CHARS, count_capped

    rng = random.Random(7)
    alphabet = "ab cdefghij  klmn\n\t 12345 !!,. _xyzé  "
    for size in (10, 1000, 40_000, 100_000, 300_000):
        text = "".join(rng.choice(alphabet) for _ in range(size))
        exact = count(text)
        assert count_capped(text, 10**9) == exact  # counted in pieces, cut where no token crosses
        capped = count_capped(text, 500)
        assert capped == exact if exact <= 500 else capped > 500
    assert count_capped("x" * (MAX_TOKEN_CHARS * 100 + 1), 100) > 100  # over from its length alone


@pytest.mark.anyio
@pytest.mark.parametrize("limit", [50, 10**6])
@pytest.mark.parametrize("content", ["Hi there, how are you?", "word " * 200, "x" * 5000])
async def test_a_chat_prompt_counts_within_a_limit_as_its_built_prompt_counts(content, limit):
    from emulator.tokenizer import count_capped, count_prompt_within

    calls = [{"id": "1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": content},
                {"role": "assistant", "content": None, "tool_calls": calls}]
    assert await count_prompt_within(messages, limit) == count_capped(chat_prompt(messages), limit)
