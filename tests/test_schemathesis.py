"""A schemathesis run of the emulator's own specs against the live server: no 5xx, every answer conforming.

Bounded (25 derandomized examples an operation) so it stays fast and gives the same cases every run.
``positive_data_acceptance`` is left out on purpose: a schema-valid body may still be refused by the
model server behind the API (``n: 0``, an unknown model, ``max_tokens`` past the context window),
as vLLM refuses it; every other built-in check runs, plus the suite's own ``Contract`` (which also
checks each SSE chunk against its component schema).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import schemathesis
from contract import KEY, SSE, Contract
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance

from emulator.config import DEFAULT_SPEC_DIR, Settings
from emulator.server import EmulatorServer

BOUNDED = settings(
    max_examples=25, derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)
CONFIG = schemathesis.Config.from_dict(
    {
        # Through the spec's own security scheme, so that a case without the key stays without it.
        "auth": {"openapi": {"bearerAuth": {"bearer": KEY}}},
        # DRF ignores query parameters it does not know, as Paradigm does: not a defect to look for.
        "generation": {"allow-extra-parameters": False},
        # Read every stream to its end (n up to 128 choices), so that each chunk and [DONE] can be checked.
        "max-stream-events": 100_000,
    }
)

v2 = schemathesis.openapi.from_path(DEFAULT_SPEC_DIR / "paradigm-v2.yaml", config=CONFIG)
v3 = schemathesis.openapi.from_path(DEFAULT_SPEC_DIR / "paradigm-v3.yaml", config=CONFIG)


@pytest.fixture(scope="module")
def keyed_server():
    """Its own server with one accepted key, so that ``ignored_auth`` can see a wrong key refused."""
    with EmulatorServer(Settings(api_keys=(KEY,))) as running:
        yield running


@pytest.fixture(scope="module")
def contract(keyed_server) -> Contract:
    return Contract(keyed_server.emulator)


def conforms(case, server, contract: Contract) -> None:
    response = case.call_and_validate(base_url=server.base_url, excluded_checks=[positive_data_acceptance])
    path = urlsplit(response.request.url).path
    if response.headers.get("content-type", [""])[0].startswith(SSE):
        contract.check_stream(response.request.method, path, response.status_code, response.content)
    elif response.content:
        contract.check_body(response.request.method, path, response.status_code, response.json())


@v2.parametrize()
@BOUNDED
def test_v2_answers_conform_to_the_spec(case, keyed_server, contract):
    conforms(case, keyed_server, contract)


@v3.parametrize()
@BOUNDED
def test_v3_answers_conform_to_the_spec(case, keyed_server, contract):
    conforms(case, keyed_server, contract)
