"""Answer -> the JSON bodies vLLM returns for chat and legacy completions (no stream)."""

from __future__ import annotations

from typing import Any

from .answer import Answer, Choice, TokenLogprob, ToolCall


def tool_call_object(call: ToolCall) -> dict[str, Any]:
    return {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}


def chat_logprob(lp: TokenLogprob) -> dict[str, Any]:
    return {
        "token": lp.token,
        "logprob": lp.logprob,
        "bytes": list(lp.token.encode("utf-8")),
        "top_logprobs": [{"token": t, "logprob": v, "bytes": list(t.encode("utf-8"))} for t, v in lp.top],
    }


def chat_logprobs(choice: Choice) -> dict[str, Any] | None:
    if choice.logprobs is None:
        return None
    return {"content": [chat_logprob(lp) for lp in choice.logprobs]}


def chat_message(choice: Choice) -> dict[str, Any]:
    text = choice.text
    if choice.function_call:  # the legacy functions shape: one call, no tool_calls
        call = choice.tool_calls[0]
        return {"role": "assistant", "content": text or None,
                "function_call": {"name": call.name, "arguments": call.arguments}, "tool_calls": []}
    return {
        "role": "assistant",
        "content": text if (text or not choice.tool_calls) else None,
        "tool_calls": [tool_call_object(call) for call in choice.tool_calls],
    }


def chat_completion(answer: Answer, id_: str, created: int, model: str) -> dict[str, Any]:
    return {
        "id": id_,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {"index": c.index, "message": chat_message(c), "logprobs": chat_logprobs(c),
             "finish_reason": c.finish_reason, "stop_reason": c.stop_reason}
            for c in answer.choices
        ],
        "usage": answer.usage_dict(),
    }


def completion_logprobs(lps: tuple[TokenLogprob, ...], start_offset: int = 0) -> dict[str, Any]:
    """The legacy completions format: parallel lists, and the character offset of each token."""
    tokens, token_logprobs, top_logprobs, offsets = [], [], [], []
    offset = start_offset
    for lp in lps:
        tokens.append(lp.token)
        token_logprobs.append(lp.logprob)
        top_logprobs.append(dict(lp.top) if lp.logprob is not None else None)
        offsets.append(offset)
        offset += len(lp.token)
    return {"tokens": tokens, "token_logprobs": token_logprobs, "top_logprobs": top_logprobs,
            "text_offset": offsets}


def completion_choice_logprobs(choice: Choice) -> dict[str, Any] | None:
    if choice.logprobs is None:
        return None
    lps = (choice.echo_logprobs or ()) + choice.logprobs
    return completion_logprobs(lps)


def text_completion(answer: Answer, id_: str, created: int, model: str) -> dict[str, Any]:
    return {
        "id": id_,
        "object": "text_completion",
        "created": created,
        "model": model,
        "choices": [
            {"index": c.index, "text": "".join(c.echo) + c.text, "logprobs": completion_choice_logprobs(c),
             "finish_reason": c.finish_reason, "stop_reason": c.stop_reason}
            for c in answer.choices
        ],
        "usage": answer.usage_dict(),
    }
