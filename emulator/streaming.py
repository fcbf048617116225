"""Answer -> ``data: {json}\\n\\n`` ... ``data: [DONE]\\n\\n``, exactly as vLLM writes it.

Chat (vLLM's ``chat_completion_stream_generator``):

1. per choice, a first chunk ``{"index": i, "delta": {"role": "assistant", "content": ""},
   "logprobs": null, "finish_reason": null}``;
2. one chunk per token and choice (choices interleave), ``delta: {"content": ...}``;
   tool calls as ``delta.tool_calls`` (name first, then the arguments in pieces), a legacy
   ``functions`` call as ``delta.function_call`` the same way;
3. the last chunk of each choice carries its ``finish_reason`` and ``stop_reason``;
4. with ``stream_options.include_usage``, ``{"choices": [], "usage": {...}}``;
5. always ``data: [DONE]``.

Legacy completions stream ``text_completion`` chunks the same way, with no role
chunk. One ``id`` and ``created`` for the whole stream. Each event is yielded as
soon as it is made; the only waits are the scripted or configured delays, which ``sse``
applies (with the stream faults) to any stream of events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from json.encoder import encode_basestring  # C-accelerated, ensure_ascii=False
from typing import Any

from .answer import Answer, Choice
from .errors import dumps
from .render import chat_logprob, completion_logprobs
from .sse import DONE, EventStream, StreamDropped, event_stream, pacing
from .tokenizer import tokenize

__all__ = ["DONE", "StreamDropped", "chat_events", "completion_events", "sse_response"]


class _Frame:
    """Everything of a chunk but its choices, serialized once per stream."""

    def __init__(self, id_: str, object_: str, created: int, model: str):
        head = dumps({"id": id_, "object": object_, "created": created, "model": model})
        self.prefix = b"data: " + head[:-1] + b',"choices":['
        self.head = head[:-1]

    def event(self, choice: dict[str, Any], usage: dict[str, int] | None = None) -> bytes:
        if usage is None:
            return self.prefix + dumps(choice) + b"]}\n\n"
        return self.prefix + dumps(choice) + b'],"usage":' + dumps(usage) + b"}\n\n"

    def content_event(self, index: int, piece: str) -> bytes:
        """The hot path of a stream: a plain token chunk, without a json.dumps of a dict per token."""
        return b"".join((self.prefix, b'{"index":', str(index).encode(), b',"delta":{"content":',
                         encode_basestring(piece).encode(), b'},"logprobs":null,"finish_reason":null}]}\n\n'))

    def usage_event(self, usage: dict[str, int]) -> bytes:
        return self.prefix + b'],"usage":' + dumps(usage) + b"}\n\n"


def _steps(answer: Answer) -> Iterator[tuple[Choice, int, bool]]:
    """(choice, position, is_last) in the order vLLM emits them: step by step, choices interleaved."""
    lengths = [max(len(c.pieces), 1) for c in answer.choices]
    for position in range(max(lengths, default=0)):
        for choice, length in zip(answer.choices, lengths, strict=True):
            if position < length:
                yield choice, position, position == length - 1


def _tool_call_deltas(choice: Choice) -> list[dict[str, Any]]:
    deltas: list[dict[str, Any]] = []
    if choice.function_call:  # the legacy functions shape: the name, then the arguments in pieces
        call = choice.tool_calls[0]
        deltas.append({"function_call": {"name": call.name, "arguments": ""}})
        deltas.extend({"function_call": {"arguments": piece}} for piece in tokenize(call.arguments))
        return deltas
    for number, call in enumerate(choice.tool_calls):
        deltas.append({"tool_calls": [{"id": call.id, "type": "function", "index": number,
                                       "function": {"name": call.name}}]})
        for piece in tokenize(call.arguments) or [""]:
            deltas.append({"tool_calls": [{"index": number, "function": {"arguments": piece}}]})
    return deltas


def chat_events(answer: Answer, id_: str, created: int, model: str, include_usage: bool,
                continuous_usage: bool = False) -> Iterator[bytes]:
    frame = _Frame(id_, "chat.completion.chunk", created, model)
    prompt = answer.prompt_tokens
    produced = {c.index: 0 for c in answer.choices}

    def usage_now() -> dict[str, int] | None:
        if not continuous_usage:
            return None
        done = sum(produced.values())
        return {"prompt_tokens": prompt, "total_tokens": prompt + done, "completion_tokens": done}

    for choice in answer.choices:
        yield frame.event({"index": choice.index, "delta": {"role": "assistant", "content": ""},
                           "logprobs": None, "finish_reason": None}, usage_now())
    for choice in answer.choices:
        if not choice.tool_calls:
            continue
        deltas = _tool_call_deltas(choice)
        if choice.pieces:  # text before the calls goes first
            for piece in choice.pieces:
                produced[choice.index] += 1
                yield frame.event({"index": choice.index, "delta": {"content": piece}, "logprobs": None,
                                   "finish_reason": None}, usage_now())
        for number, delta in enumerate(deltas):
            last = number == len(deltas) - 1
            produced[choice.index] += 1
            body: dict[str, Any] = {"index": choice.index, "delta": delta, "logprobs": None,
                                    "finish_reason": choice.finish_reason if last else None}
            if last:
                body["stop_reason"] = choice.stop_reason
            yield frame.event(body, usage_now())
    text_answer = Answer(tuple(c for c in answer.choices if not c.tool_calls), answer.prompt_tokens)
    for choice, position, last in _steps(text_answer):
        piece = choice.pieces[position] if choice.pieces else ""
        if choice.pieces:
            produced[choice.index] += 1
        lp = choice.logprobs[position] if choice.logprobs and position < len(choice.logprobs) else None
        if not last and lp is None and not continuous_usage:
            yield frame.content_event(choice.index, piece)
            continue
        body = {"index": choice.index, "delta": {"content": piece},
                "logprobs": {"content": [chat_logprob(lp)]} if lp else None,
                "finish_reason": choice.finish_reason if last else None}
        if last:
            body["stop_reason"] = choice.stop_reason
        yield frame.event(body, usage_now())
    if include_usage:
        yield frame.usage_event(answer.usage_dict())
    yield DONE


def completion_events(answer: Answer, id_: str, created: int, model: str, include_usage: bool,
                      continuous_usage: bool = False) -> Iterator[bytes]:
    frame = _Frame(id_, "text_completion", created, model)
    offsets = {c.index: 0 for c in answer.choices}
    for choice in answer.choices:
        if choice.echo:
            echo_text = "".join(choice.echo)
            lps = completion_logprobs(choice.echo_logprobs) if choice.echo_logprobs else None
            offsets[choice.index] = len(echo_text)
            yield frame.event({"index": choice.index, "text": echo_text, "logprobs": lps,
                               "finish_reason": None, "stop_reason": None})
    for choice, position, last in _steps(answer):
        piece = choice.pieces[position] if choice.pieces else ""
        lps = None
        if choice.logprobs and position < len(choice.logprobs):
            lps = completion_logprobs((choice.logprobs[position],), offsets[choice.index])
        offsets[choice.index] += len(piece)
        yield frame.event({"index": choice.index, "text": piece, "logprobs": lps,
                           "finish_reason": choice.finish_reason if last else None,
                           "stop_reason": choice.stop_reason if last else None})
    if include_usage:
        yield frame.usage_event(answer.usage_dict())
    yield DONE


def sse_response(answer: Answer, events: Iterator[bytes],
                 on_cut: Callable[[], None] | None = None) -> EventStream:
    """An answer's events as an SSE stream, paced by its timing and cut by its fault."""
    return event_stream(pacing(answer.timing, answer.fault, events, on_cut), answer.headers)
