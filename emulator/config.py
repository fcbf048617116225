"""Settings: one frozen object, a field per CLI flag and environment variable.

Nothing else in the package reads ``os.environ``: the CLI builds a ``Settings``
(flags first, then ``PARADIGM_EMULATOR_*`` variables, then defaults) and hands it
to ``create_app``. Each field is written once, here: its type says how a flag or a
variable is parsed, and its ``help`` is the flag's (a field without one has no flag,
only a variable).
"""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_PACKAGE = Path(__file__).resolve().parent


def _data_dir(name: str) -> Path:
    """The shipped ``openapi/`` or ``fixtures/``: inside the wheel, or beside the package in a checkout."""
    bundled = _PACKAGE / "_data" / name
    return bundled if bundled.is_dir() else _PACKAGE.parent / name


DEFAULT_SPEC_DIR = _data_dir("openapi")
DEFAULT_FIXTURES_DIR = _data_dir("fixtures")
ENV_PREFIX = "PARADIGM_EMULATOR_"
# The documented shapes of the answers the docs give more than one way (handlers/v2_choices.py).
QUERY_SHAPES = ("object", "array")
TOKENIZE_SHAPES = ("current", "guide", "legacy")


def flag(default: Any, help: str, **options: Any) -> Any:
    """A setting with a CLI flag (``--name-with-dashes``) and the help text shown for it."""
    return field(default=default, metadata={"help": help, **options})


@dataclass(frozen=True)
class Settings:
    # -- where and how it listens ------------------------------------------------------------------
    host: str = flag("127.0.0.1", "interface to listen on (default 127.0.0.1: this machine only)")
    port: int = flag(8000, "port to listen on, 0 to 65535 (default 8000; 0 picks a free one)")
    workers: int = flag(1, "worker processes serving one port (default 1; more need --redis-url)")
    log_level: str = flag("warning", "critical, error, warning (default), info or debug")
    # -- what it serves ----------------------------------------------------------------------------
    spec_dir: Path = flag(DEFAULT_SPEC_DIR, "folder of the OpenAPI YAML files served")
    fixtures_dir: Path | None = flag(None, "folder of YAML/JSON fixture files (scripted answers) to load "
                                           "and hot-reload")
    models: Path | None = flag(None, "model catalog YAML (default: the shipped fixtures/models.yaml)")
    agents: Path | None = flag(None, "company, groups, user and agents YAML (default: the shipped "
                                     "fixtures/agents.yaml)")
    # Empty: any non-empty bearer key is accepted.
    api_keys: tuple[str, ...] = flag(
        (),
        "accept only this bearer key (repeatable; default: any non-empty key)",
        flag="--api-key",
        repeat=True,
    )
    users: Path | None = flag(None, "users and companies YAML: each API key a user of a company, with a "
                                    "role, groups and rate limits (default: each key its own user and "
                                    "company)")
    strict: bool = flag(False, "answer unmatched requests with an error instead of generated text")
    admin_token: str | None = flag(None, "require this token (X-Emulator-Admin-Token) on the /_emulator "
                                         "control API")
    # -- determinism and time ----------------------------------------------------------------------
    seed: int = flag(0, "changes every generated text, id and vector (default 0)")
    # Where ids' creation times start; every object created later gets a later second.
    epoch: int = field(default=1735689600)  # 2025-01-01T00:00:00Z
    ttft_ms: float = flag(0.0, "time to first token of every answer, in ms (default 0)")
    itl_ms: float = flag(0.0, "delay between streamed tokens, in ms (default 0)")
    ingest_ms: float = flag(0.0, "time an uploaded file takes to be embedded (default 0: immediate)")
    turn_ms: float = flag(0.0, "time a generated v3 turn takes to complete, in ms (default 0)")
    turn_wait_ms: float = flag(30_000.0, "how long POST .../turns waits for the turn before it answers 202 "
                                         "(default 30000)")
    analysis_ms: float = flag(300.0, "time a v2 document analysis takes to complete, in ms (default 300)")
    # -- the shapes the docs give two ways (handlers/v2_choices.py) --------------------------------
    query_shape: str = flag("object", "what /api/v2/query answers for a single query string: object "
                                      "(default, {query, chunks}) or array ([{query, chunks}])",
                            choices=QUERY_SHAPES)
    tokenize_shape: str = flag("current", "the body /api/v2/tokenize answers: current (default, the current "
                                          "spec's fields), guide or legacy", choices=TOKENIZE_SHAPES)
    # -- state -------------------------------------------------------------------------------------
    data_dir: Path | None = flag(None, "keep the file store here (memory backend), and load it on start")
    redis_url: str | None = flag(None, "share the state through this Redis (redis://HOST:PORT/DB)")
    redis_prefix: str = flag("paradigm-emulator:", "prefix of every Redis key (default paradigm-emulator:)")
    # False in the workers of serve --workers: the supervisor wrote the Redis start marker before them.
    mark_redis_start: bool = field(default=True)
    # How long an ingestion stays the lease of a worker that stopped renewing it (a dead one), in seconds:
    # what a request waits for such a file before it ingests the file itself (docs/files.md).
    ingest_lease_s: float = field(default=5.0)
    # -- limits ------------------------------------------------------------------------------------
    max_body_mb: float = flag(25.0, "largest accepted JSON or form body (default 25)")
    max_upload_mb: float = flag(25.0, "largest accepted upload (default 25, as on Paradigm)")
    # -- rate limits, per user, on chat, completions, embeddings and turns (docs/team.md) ------------
    rpm: int | None = flag(None, "requests per minute each user may make to the model operations (default: "
                                 "no limit)")
    tpm: int | None = flag(None, "tokens per minute each user may spend on the model operations: prompt "
                                 "plus max_tokens at admission, corrected when the answer is done (default: "
                                 "no limit)")
    rate_window_s: float = flag(60.0, "length of the sliding window of --rpm and --tpm, in seconds (default "
                                      "60; a test may shorten it)")
    # -- budgets: each exceeded one is a 4xx naming it and its flag (README: Limits and safety) ----
    max_structured_values: int = flag(
        10_000, "most values in one generated structured output (default 10000)"
    )
    max_structured_depth: int = flag(32, "deepest nesting of one generated structured output (default 32)")
    max_embedding_inputs: int = flag(2048, "most inputs in one embeddings request (default 2048, as OpenAI)")
    max_sampling_work: int = flag(262_144, "most tokens x (1 + logprobs) one chat or completion request may "
                                           "generate, over its best_of candidates and echo (default 262144)")
    max_tokenize_mb: float = flag(1.0, "largest text one tokenize request may cut into tokens (default 1)")
    regex_budget_ms: float = flag(100.0, "time one request's fixture regexes may take in all; past it the "
                                         "remaining regex conditions count as not matched (default 100)")
    max_fixture_mb: float = flag(5.0, "largest fixture document, in source and once its aliases are "
                                      "expanded (default 5)")
    max_extracted_mb: float = flag(
        100.0, "most text and XML one uploaded document may unpack to (default 100)"
    )
    max_zip_ratio: float = flag(
        100.0, "highest uncompressed/compressed ratio of a DOCX/ZIP member (default 100)"
    )
    max_pdf_pages: int = flag(2000, "most pages read from one PDF (default 2000)")
    journal_mb: float = flag(
        16.0, "total size of the request journal; the oldest entries go first (default 16)"
    )
    journal_body_kb: float = flag(
        64.0, "body kept per journal entry; the rest is cut, with a marker (default 64)"
    )
    memo_mb: float = flag(8.0, "size of the memo of repeated deterministic answers (default 8)")
    # -- connections and safety --------------------------------------------------------------------
    read_timeout: float = flag(30.0, "seconds a client may take to send a request, headers and body; "
                                     "then 408 (default 30)")
    max_connections: int = flag(1000, "open connections served at once; more get 503 (default 1000, lowered "
                                      "to fit ulimit -n)")
    shutdown_timeout: float = flag(
        3.0, "seconds shutdown waits for open streams before closing them (default 3)"
    )
    allow_origin: tuple[str, ...] = flag((), "another Origin allowed to use the control API (repeatable; "
                                             "* allows any)", repeat=True)
    allow_host: tuple[str, ...] = flag((), "another Host name the server answers to, besides localhost, "
                                           "127.0.0.1, [::1], --host and IP addresses (repeatable; "
                                           "* allows any)", repeat=True)

    # -- upstream: proxy, record, replay (docs/recording.md) ---------------------------------------
    upstream: str | None = flag(None, "forward every /api request no fixture matches to this Paradigm root "
                                      "URL (http or https)")
    upstream_key: str | None = flag(None, "bearer key sent to --upstream instead of the client's own")
    upstream_timeout: float = flag(60.0, "seconds the upstream may take to connect, answer or send the next "
                                         "chunk; then 502/504 (default 60)")
    record: Path | None = flag(None, "write every exchange forwarded to --upstream into this folder, as "
                                     "fixture files")
    record_ignore: tuple[str, ...] = flag((), "a JSON field or query parameter left out of recorded "
                                              "matching (repeatable, e.g. user)", repeat=True)
    record_redact: tuple[str, ...] = flag((), "another header or JSON field written as a placeholder in "
                                              "recordings (repeatable)", repeat=True)
    replay_speed: float = flag(1.0, "recorded stream timing x this factor on replay (0: as fast as possible, "
                                    "default 1: as recorded)")

    @property
    def models_file(self) -> Path:
        return self.models or DEFAULT_FIXTURES_DIR / "models.yaml"

    @property
    def agents_file(self) -> Path:
        return self.agents or DEFAULT_FIXTURES_DIR / "agents.yaml"

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            allowed = f.metadata.get("choices")
            value = getattr(self, f.name)
            if allowed and value not in allowed:
                name = f.metadata.get("flag") or "--" + f.name.replace("_", "-")
                raise ValueError(f"{name} (or {env_name(f.name)}) must be one of {', '.join(allowed)}, "
                                 f"got {value!r}")


def _truthy(text: str) -> bool:
    return text.strip().lower() in ("1", "true", "yes", "on")


def _words(text: str) -> tuple[str, ...]:
    return tuple(word.strip() for word in text.split(",") if word.strip())


def parser_of(kind: Any) -> Callable[[str], Any]:
    """How a flag or variable of this field type is read from a string."""
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    if typing.get_origin(kind) is tuple:
        return _words
    if args:  # X | None
        return parser_of(args[0])
    parsers: dict[Any, Callable[[str], Any]] = {int: int, float: float, bool: _truthy, Path: Path}
    return parsers.get(kind, str)


_TYPES = typing.get_type_hints(Settings)
PARSERS: dict[str, Callable[[str], Any]] = {
    f.name: parser_of(_TYPES[f.name]) for f in dataclasses.fields(Settings)
}


def expected(field_name: str) -> str:
    """What a flag or variable of this field takes, for the message when it does not parse."""
    kind = PARSERS[field_name]
    if kind is int:
        return "a whole number, such as 8000"
    return "a number, such as 2.5" if kind is float else f"a valid {field_name}"


def env_name(field_name: str) -> str:
    return ENV_PREFIX + field_name.upper()


def to_env(settings: Settings) -> dict[str, str]:
    """The ``PARADIGM_EMULATOR_*`` variables that make ``from_env`` give these settings back (how
    ``serve --workers N`` hands its flags to the worker processes). A field left unset is ""."""
    variables = {}
    for f in dataclasses.fields(Settings):
        value = getattr(settings, f.name)
        if value is None:
            text = ""
        elif isinstance(value, bool):
            text = "1" if value else "0"
        elif isinstance(value, tuple):
            text = ",".join(value)
        else:
            text = str(value)
        variables[env_name(f.name)] = text
    return variables


def from_env(environ: typing.Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Settings from ``PARADIGM_EMULATOR_*`` variables, with explicit overrides winning."""
    environ = os.environ if environ is None else environ
    values = {}
    for f in dataclasses.fields(Settings):
        raw = environ.get(env_name(f.name))
        if raw is not None and raw != "":
            try:
                values[f.name] = PARSERS[f.name](raw)
            except ValueError:
                raise ValueError(f"{env_name(f.name)} expects {expected(f.name)}, got {raw!r}") from None
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**values)
