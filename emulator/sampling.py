"""What chat and legacy completions share: the sampling parameters, checked as vLLM checks them,
and the draft they hand to the delivery step (emulator/pipeline.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from .answer import Answer
from .call import Call, Draft
from .catalog import Catalog, Model
from .config import Settings
from .errors import BadRequest
from .generation.text import Limits, request_key

MAX_N = 128
MAX_LOGPROBS = 20
# The most tokens an answer runs to by itself (MAX_SENTENCES sentences), when nothing makes it longer.
NATURAL_TOKENS = 96


@dataclass(frozen=True)
class Sampling:
    model: Model
    n: int
    best_of: int
    stream: bool
    include_usage: bool
    continuous_usage: bool
    max_tokens: int | None
    stop: tuple[str, ...]
    temperature: float
    ignore_eos: bool
    min_tokens: int
    logprobs: int | None  # how many top logprobs (0 = only the chosen token); None = not asked

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def work(self, prompt_tokens: int, echo: bool) -> int:
        """Tokens x (1 + logprobs) this request asks to be generated (--max-sampling-work): best_of
        candidates, each as long as max_tokens or the context window allow when ignore_eos or min_tokens
        make it run on, and, with echo, the prompt again in each of the n choices."""
        limit = self.limits(prompt_tokens).max_tokens
        tokens = limit if self.ignore_eos else min(limit, max(NATURAL_TOKENS, self.min_tokens))
        per_token = 1 + (self.logprobs or 0)
        return (self.best_of * tokens + (self.n * prompt_tokens if echo else 0)) * per_token

    def limits(self, prompt_tokens: int) -> Limits:
        room = self.model.max_model_len - prompt_tokens
        budget = room if self.max_tokens is None else min(self.max_tokens, room)
        return Limits(max_tokens=max(budget, 0), stop=self.stop, ignore_eos=self.ignore_eos,
                      min_tokens=self.min_tokens)


def read_sampling(body: dict[str, Any], model: Model, logprobs: int | None) -> Sampling:
    n = _int(body.get("n"), 1)
    best_of = _int(body.get("best_of"), n)
    if n < 1:
        raise BadRequest(f"n must be at least 1, got {n}.", param="n")
    if n > MAX_N:
        raise BadRequest(f"n must be at most {MAX_N}, got {n}.", param="n")
    if best_of < n:
        raise BadRequest(f"best_of must be greater than or equal to n, got n={n} and best_of={best_of}.",
                         param="best_of")
    if best_of > MAX_N:
        raise BadRequest(f"best_of must be at most {MAX_N}, got {best_of}.", param="best_of")
    stream = bool(body.get("stream"))
    if stream and best_of > n:
        raise BadRequest("best_of is not supported with streaming.", param="best_of")
    temperature = _number(body.get("temperature"), 1.0)
    if temperature < 0:
        raise BadRequest(f"temperature must be non-negative, got {temperature}.", param="temperature")
    top_p = _number(body.get("top_p"), 1.0)
    if not 0 < top_p <= 1:
        raise BadRequest(f"top_p must be in (0, 1], got {top_p}.", param="top_p")
    for name in ("presence_penalty", "frequency_penalty"):
        value = _number(body.get(name), 0.0)
        if not -2 <= value <= 2:
            raise BadRequest(f"{name} must be in [-2, 2], got {value}.", param=name)
    max_tokens = body.get("max_tokens", body.get("max_completion_tokens"))
    if max_tokens is not None:
        max_tokens = _int(max_tokens, 16)
        if max_tokens < 1:
            raise BadRequest(f"max_tokens must be at least 1, got {max_tokens}.", param="max_tokens")
    if logprobs is not None and logprobs < 0:
        raise BadRequest(f"logprobs must be non-negative, got {logprobs}.", param="logprobs")
    if logprobs is not None and logprobs > MAX_LOGPROBS:
        raise BadRequest(f"Requested sample logprobs of {logprobs}, which is greater than max allowed: "
                         f"{MAX_LOGPROBS}", param="logprobs")
    min_tokens = _int(body.get("min_tokens"), 0)
    if min_tokens < 0:
        raise BadRequest(f"min_tokens must be greater than or equal to 0, got {min_tokens}.",
                         param="min_tokens")
    if max_tokens is not None and min_tokens > max_tokens:
        raise BadRequest(f"min_tokens must be less than or equal to max_tokens={max_tokens}, "
                         f"got {min_tokens}.", param="min_tokens")
    stop = body.get("stop") or ()
    stop = (stop,) if isinstance(stop, str) else tuple(s for s in stop if isinstance(s, str))
    options = body.get("stream_options")
    options = options if isinstance(options, dict) else None
    # vLLM: include_usage defaults to true whenever a stream_options object is present
    include_usage = bool(stream and options is not None and options.get("include_usage", True))
    continuous = bool(stream and options is not None and options.get("continuous_usage_stats"))
    return Sampling(model=model, n=n, best_of=best_of, stream=stream, include_usage=include_usage,
                    continuous_usage=continuous, max_tokens=max_tokens, stop=stop, temperature=temperature,
                    ignore_eos=bool(body.get("ignore_eos")), min_tokens=min_tokens,
                    logprobs=logprobs)


def check_context(model: Model, prompt_tokens: int, max_tokens: int | None) -> None:
    limit = model.max_model_len
    if max_tokens is None:
        if prompt_tokens >= limit:
            # vLLM's words, odd comma included
            raise BadRequest(f"This model's maximum context length is {limit} tokens. However, you requested "
                             f"{prompt_tokens} tokens in the messages, "
                             f"Please reduce the length of the messages.")
        return
    if prompt_tokens + max_tokens > limit:
        raise BadRequest(
            f"This model's maximum context length is {limit} tokens. However, you requested "
            f"{prompt_tokens + max_tokens} tokens ({prompt_tokens} in the messages, {max_tokens} in the "
            f"completion). Please reduce the length of the messages or completion.")


def check_work(sampling: Sampling, prompt_tokens: int, echo: bool, limit: int) -> None:
    work = sampling.work(prompt_tokens, echo)
    if work > limit:
        raise BadRequest(
            f"This request asks for about {work} tokens x (1 + logprobs) of generation "
            f"(best_of={sampling.best_of}, n={sampling.n}, logprobs={sampling.logprobs or 0}"
            f"{', echo' if echo else ''}{', ignore_eos' if sampling.ignore_eos else ''}); the limit is "
            f"--max-sampling-work {limit}. "
            f"Ask for fewer choices, logprobs or tokens, or raise the limit.",
            param="best_of" if sampling.best_of > sampling.n else "n")


def response_id(prefix: str, settings_seed: int, call: Call) -> str:
    """The same request always gets the same id, whatever its key order or content type, streamed
    or not."""
    identity = {k: v for k, v in call.body.items() if k not in ("stream", "stream_options")}
    return prefix + request_key(settings_seed, identity).hex()[:32]


def completion_draft(call: Call, settings: Settings, sampling: Sampling, prompt_tokens: int,
                     generate: Callable[[], Answer], id_prefix: str,
                     render: Callable[[Answer, str, int, Any], dict[str, Any]],
                     events: Callable[..., Iterator[bytes]]) -> Draft[Answer]:
    """What chat and legacy completions hand to the delivery step: the generator's answer, and how an
    answer (the generator's or a fixture's) is rendered as a JSON body or, when asked, a stream."""
    check_work(sampling, prompt_tokens, bool(call.body.get("echo")), settings.max_sampling_work)
    id_ = response_id(id_prefix, settings.seed, call)
    created, name = settings.epoch, call.body.get("model")

    def events_of(answer: Answer) -> Iterator[bytes]:
        return events(answer, id_, created, name, sampling.include_usage, sampling.continuous_usage)

    return Draft(call=call, n=sampling.n, stream=sampling.stream, prompt_tokens=prompt_tokens,
                 generate=generate,
                 body_of=lambda answer: render(answer, id_, created, name),
                 events_of=events_of if sampling.stream else None)


class ModelLookup:
    """The model a model call names, of the kind its endpoint serves. A call a fixture answers may
    name a model the catalog lacks (it gets a stand-in): the match stage has run, so the lookup
    reads its verdict here, and no handler asks where its answer comes from."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog

    def __call__(self, call: Call, kind: str, api: str) -> Model:
        return self.catalog.for_request(call.body.get("model"), kind, api, scripted=call.script is not None)


def _int(value: Any, default: int) -> int:
    if value is None or isinstance(value, bool):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _number(value: Any, default: float) -> float:
    if value is None or isinstance(value, bool):
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        return default
