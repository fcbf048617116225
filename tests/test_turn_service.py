"""The turn logic (``conversations.turns.TurnService``) unit-tested without a server: the real
conversations store over an in-memory backend, the real catalog, fake agents, documents and clock."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import pytest

from emulator.call import Call
from emulator.catalog import Catalog
from emulator.config import Settings
from emulator.conversations.directory import Tool
from emulator.conversations.records import Conversations
from emulator.conversations.scope import Passage, Scope
from emulator.conversations.turns import Prepared, TurnRunning, TurnService
from emulator.errors import ValidationError
from emulator.state.memory import MemoryBackend

pytestmark = pytest.mark.anyio
SETTINGS = Settings()
AGENT = {"id": 7, "name": "helper", "instructions": "", "tools": []}


class FakeAgents:
    default_id = 7
    seeds: Mapping[int, dict[str, Any]] = {7: AGENT}
    tools: Mapping[str, Tool] = {"document_search": Tool(id="t-1", name="document_search")}

    async def get(self, agent_id: Any, company: int | None = None) -> dict[str, Any] | None:
        return AGENT if agent_id == 7 else None

    def tool_names(self, agent: dict[str, Any]) -> list[str]:
        return []


class FakeDocuments:
    async def scope(self, body: dict[str, Any], viewer: Any = None) -> Scope:
        return Scope((), False)

    async def search(self, query: str, file_ids: Collection[int], n: int = 5) -> list[Passage]:
        return []

    async def filenames(self, file_ids: Collection[int]) -> dict[int, str]:
        return {}

    def answer(self, question: str, passages: list[Passage]) -> tuple[str, set[int]]:
        return "", set()

    def summary(self, passages: list[Passage], names: dict[int, str]) -> str:
        return ""


class FakeClock:
    def __init__(self) -> None:
        self.at = 1000.0

    async def now(self) -> float:
        return self.at


class FakeCall:
    """What ``prepare`` reads of a call: its body and its user (none here); it leaves the turn's facts
    on it."""

    def __init__(self, body: dict[str, Any]):
        self.body, self.turn_context, self.user = body, None, None


def service(settings: Settings = SETTINGS) -> tuple[TurnService, FakeClock]:
    clock = FakeClock()
    conversations = Conversations(MemoryBackend(), settings.seed, settings.epoch)
    return TurnService(conversations, FakeAgents(), Catalog.load(settings.models_file), clock, settings,
                       FakeDocuments()), clock


async def prepare(turns: TurnService, body: dict[str, Any], thread: Any = None) -> tuple[Prepared, FakeCall]:
    call = FakeCall(body)
    prepared = await turns.prepare(call, thread)  # type: ignore[arg-type]  # a fake of the call
    return prepared, call


async def test_a_turn_is_prepared_with_the_facts_its_fixtures_match_on() -> None:
    turns, _ = service()
    prepared, call = await prepare(turns, {"query": "Hello?", "force_tool": "document_search"})
    assert prepared.agent["id"] == 7 and prepared.index == 0 and prepared.model.kind == "chat"
    assert call.turn_context == {"index": 0, "agent_id": 7, "force_tool": "document_search"}


@pytest.mark.parametrize("body, field", [
    pytest.param({"query": "q", "agent_id": 99}, "agent_id", id="unknown-agent"),
    pytest.param({"query": "q", "ml_model": "no-such-model"}, "ml_model", id="unknown-model"),
    pytest.param({"query": "q", "force_tool": "nope"}, "force_tool", id="unknown-tool"),
])
async def test_a_turn_naming_what_does_not_exist_is_a_400_naming_the_field(body: dict[str, Any],
                                                                           field: str) -> None:
    turns, _ = service()
    with pytest.raises(ValidationError) as raised:
        await prepare(turns, body)
    assert field in raised.value.fields


async def test_a_generated_turn_is_stored_with_its_new_thread_and_planned_alike_twice() -> None:
    records = []
    for _ in range(2):
        turns, _clock = service()
        prepared, _call = await prepare(turns, {"query": "What is the plan?"})
        record = await turns.start({"query": "What is the plan?"}, prepared, None)
        thread = await turns.conversations.thread(record["thread"])
        assert thread is not None and thread["turns"] == [record["id"]]
        assert await turns.conversations.turn(record["id"]) == record
        records.append(record)
    assert records[0] == records[1]  # the same request on a fresh store: the same turn, byte for byte
    assert records[0]["outcome"] == "completed" and records[0]["answer"]["pieces"]


async def test_a_scripted_turn_answers_with_the_fixture_text() -> None:
    class Scripted:
        name, response = "s", {"content": "From the script."}

        def render(self, template: str) -> str:
            return template

    turns, _ = service()
    prepared, _call = await prepare(turns, {"query": "q"})
    record = await turns.start({"query": "q"}, prepared, Scripted())  # type: ignore[arg-type]  # a fake
    assert "".join(record["answer"]["pieces"]) == "From the script."


async def test_a_turn_while_the_last_one_runs_is_refused() -> None:
    turns, clock = service(SETTINGS.replace(turn_ms=500.0))
    prepared, _call = await prepare(turns, {"query": "first"})
    first = await turns.start({"query": "first"}, prepared, None)
    thread = await turns.conversations.thread(first["thread"])
    assert thread is not None and thread["busy_until"] > clock.at  # the first still runs
    with pytest.raises(TurnRunning):
        await prepare(turns, {"query": "second"}, thread)
    clock.at = thread["busy_until"] + 1
    prepared, call = await prepare(turns, {"query": "second"}, thread)
    assert prepared.index == 1 and prepared.history and call.turn_context is not None
    assert isinstance(call, FakeCall) and not isinstance(call, Call)
