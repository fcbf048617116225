"""POST /api/v2/completions (the legacy text completions)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..answer import Answer, Choice, Timing, TokenLogprob
from ..call import Call, Draft, Handler
from ..config import Settings
from ..generation import text as generator
from ..render import text_completion
from ..sampling import ModelLookup, check_context, completion_draft, read_sampling
from ..streaming import completion_events
from ..tokenizer import MAX_TOKEN_CHARS, count_capped, tokenize

SHAPING = ("prompt", "suffix", "seed", "temperature", "top_p")


class Completions:
    def __init__(self, models: ModelLookup, settings: Settings, pace: Timing):
        self.models, self.settings, self.pace = models, settings, pace

    def handlers(self) -> dict[str, Handler]:
        return {"api_v2_completions_create": self.create}

    async def create(self, call: Call) -> Draft[Answer]:
        body, settings, pace = call.body, self.settings, self.pace
        model = self.models(call, "chat", "Completions API")
        logprobs = body.get("logprobs")
        sampling = read_sampling(body, model, logprobs if isinstance(logprobs, int) else None)
        prompt = body.get("prompt") or ""
        if isinstance(prompt, str) and len(prompt) > MAX_TOKEN_CHARS * model.max_model_len:  # over by length
            check_context(model, count_capped(prompt, model.max_model_len), sampling.max_tokens)
        prompt_pieces = tokenize(prompt)
        prompt_tokens = len(prompt_pieces)
        check_context(model, prompt_tokens, sampling.max_tokens)
        shaping = {k: body[k] for k in SHAPING if k in body}
        base_key = (settings.seed, model.technical_name, shaping)
        echo = bool(body.get("echo"))

        def generate() -> Answer:
            # A continuation needs a space before its first word, unless the prompt already ends with one.
            leading_space = bool(prompt) and not prompt[-1].isspace()
            limits = replace(sampling.limits(prompt_tokens), leading_space=leading_space)
            candidates = []
            for index in range(sampling.best_of):
                key = generator.request_key(*base_key, None if sampling.greedy else index)
                candidates.append((key, generator.choice(index, key, limits, sampling.logprobs)))
            if sampling.best_of > sampling.n:
                # best_of: keep the n candidates with the highest mean logprob, in that order
                candidates.sort(key=lambda kc: -generator.cumulative_logprob(*kc))
                candidates = candidates[:sampling.n]
            choices = [replace(c, index=i) for i, (_, c) in enumerate(candidates)]
            if echo:
                choices = [_with_echo(c, prompt_pieces, base_key, sampling.logprobs) for c in choices]
            return Answer(tuple(choices), prompt_tokens, timing=pace)

        return completion_draft(call, settings, sampling, prompt_tokens, generate, "cmpl-", text_completion,
                                completion_events)


def _with_echo(choice: Choice, prompt_pieces: list[str], base_key: Any, logprobs: int | None) -> Choice:
    echo_logprobs = None
    if logprobs is not None:
        made = generator.logprobs_for(generator.request_key(*base_key, "prompt"), prompt_pieces, logprobs)
        # The first prompt token has nothing before it to be predicted from.
        echo_logprobs = tuple([TokenLogprob(made[0].token, None, ()), *made[1:]]) if made else ()
    return replace(choice, echo=tuple(prompt_pieces), echo_logprobs=echo_logprobs)
