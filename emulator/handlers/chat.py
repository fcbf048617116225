"""POST /api/v2|v3/chat/completions."""

from __future__ import annotations

from ..answer import Answer, Timing
from ..call import Call, Draft, Handler
from ..config import Settings
from ..errors import BadRequest
from ..generation import structured
from ..generation import text as generator
from ..render import chat_completion
from ..sampling import ModelLookup, check_context, completion_draft, read_sampling
from ..streaming import chat_events
from ..tokenizer import count_prompt_within

# What shapes the generated text; everything else (stream, max_tokens, stop ...) only cuts or frames it.
SHAPING = ("messages", "seed", "temperature", "top_p", "tools", "tool_choice", "functions", "function_call",
           "response_format", "guided_json", "guided_choice", "guided_regex")


class Chat:
    def __init__(self, models: ModelLookup, settings: Settings, pace: Timing):
        self.models, self.settings, self.pace = models, settings, pace

    def handlers(self) -> dict[str, Handler]:
        return {"api_v2_chat_completions_create": self.create, "api_v3_chat_completions_create": self.create}

    async def create(self, call: Call) -> Draft[Answer]:
        body, settings, pace = call.body, self.settings, self.pace
        model = self.models(call, "chat", "Chat Completions API")
        top_logprobs = body.get("top_logprobs")
        if top_logprobs is not None and not body.get("logprobs"):
            raise BadRequest("when using `top_logprobs`, `logprobs` must be set to true.",
                             param="top_logprobs")
        logprobs = (top_logprobs if isinstance(top_logprobs, int) else 0) if body.get("logprobs") else None
        sampling = read_sampling(body, model, logprobs)
        messages = body.get("messages") or []
        counted = call.prompt_tokens  # exact, when the rate limiter counted it: the same figure
        prompt_tokens = (counted if counted is not None and counted <= model.max_model_len
                         else await count_prompt_within(messages, model.max_model_len))
        check_context(model, prompt_tokens, sampling.max_tokens)
        shaping = {k: body[k] for k in SHAPING if k in body}
        base_key = (settings.seed, model.technical_name, shaping)

        def generate() -> Answer:
            choices = []
            limits = sampling.limits(prompt_tokens)
            budget = structured.Budget.of(settings)  # shared by the n choices
            for index in range(sampling.n):
                key = generator.request_key(*base_key, None if sampling.greedy else index)
                made = structured.chat_choice(index, key, body, limits, budget) or generator.choice(
                    index, key, limits, sampling.logprobs)
                choices.append(made)
            return Answer(tuple(choices), prompt_tokens, timing=pace)

        return completion_draft(call, settings, sampling, prompt_tokens, generate, "chatcmpl-",
                                chat_completion, chat_events)
