"""Which names carry a credential, so that the journal keeps none in clear.

By pattern, not by a list: a header or query parameter whose name *contains* a credential word
(``X-Auth-Token``, ``client_secret``, ``apikey``) is redacted, and in the journal's copy of a JSON
body a field whose name has one as a *whole word* (``api_key``, ``accessToken``: yes;
``max_tokens``, ``keywords``: no, they are the request's own parameters).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

REDACTED = "[redacted]"
CREDENTIAL_WORDS = ("token", "key", "secret", "password", "passwd", "auth", "credential", "cookie",
                    "signature")
# Headers that name an account without a credential word in their name.
ACCOUNT_HEADERS = frozenset({"openai-organization", "openai-project"})
# Whole words in a body field's name: the credential words, and the compounds written as one word.
_BODY_WORDS = frozenset({*CREDENTIAL_WORDS, "apikey", "authorization", "authentication", "credentials",
                         "cookies", "passphrase", "accesstoken", "sessionid"})
_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")  # api_key, apiKey, APIKey -> api, key
# A cheap first look at a raw JSON body, lowercased: every name ``secret_field`` accepts holds one of
# these (a ``\u`` escape could spell one otherwise: such a body is walked) ...
_ANY_WORD = (b"token", b"key", b"secret", b"passw", b"passphrase", b"auth", b"credential", b"cookie",
             b"signature", b"sessionid")
# ... once the request parameters named with one, which ``secret_field`` refuses, are taken out.
_PARAMETERS = (b'"max_tokens"', b'"max_completion_tokens"', b'"min_tokens"', b'"tokens"',
               b'"skip_special_tokens"', b'"tokenizer_type"', b'"keywords"')


_KEPT_MAX_BYTES = 4096  # a raw body up to this size has its answer kept (``may_hold_secret``)


@lru_cache(maxsize=4096)
def secret_name(name: str) -> bool:
    """A header or query parameter name that carries a credential (its name contains the word)."""
    lowered = name.lower()
    return lowered in ACCOUNT_HEADERS or any(word in lowered for word in CREDENTIAL_WORDS)


@lru_cache(maxsize=4096)
def secret_field(name: str) -> bool:
    """A JSON body field whose name has a credential word as a whole word."""
    words = [w.lower() for w in _WORD.findall(name)]
    return any(word in _BODY_WORDS for word in words) or name.lower() in _BODY_WORDS


def may_hold_secret(raw: bytes) -> bool:
    """False when a raw JSON body certainly has no credential field (C-level scans only)."""
    # A client sends the same small body again and again: its answer is kept.
    return _kept_answer(raw) if len(raw) <= _KEPT_MAX_BYTES else _may_hold_secret(raw)


def _may_hold_secret(raw: bytes) -> bool:
    if b"\\u" in raw:
        return True
    lowered = raw.lower()
    for name in _PARAMETERS:
        if name in lowered:
            lowered = lowered.replace(name, b"")
    for word in _ANY_WORD:
        if word in lowered:
            return True
    return False


def redact_body(value: Any) -> tuple[Any, bool]:
    """-> (the value with every credential field's value replaced, whether any was)."""
    if isinstance(value, dict):
        changed = False
        kept: dict[Any, Any] = {}
        for key, item in value.items():
            if isinstance(key, str) and secret_field(key) and item is not None:
                kept[key], changed = REDACTED, True
            else:
                kept[key], inner = redact_body(item)
                changed = changed or inner
        return (kept, True) if changed else (value, False)
    if isinstance(value, list):
        items = [redact_body(item) for item in value]
        if any(inner for _, inner in items):
            return [item for item, _ in items], True
        return value, False
    return value, False


_kept_answer = lru_cache(maxsize=512)(_may_hold_secret)
