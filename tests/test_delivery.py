"""The pipeline's stages and the delivery step's sources, unit-tested without a server: a ``Call``
made from a Starlette request scope, the stages built with fakes of the services they use."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import Response

from emulator.answer import Answer, Choice
from emulator.call import Call, Draft, Handler, Route
from emulator.config import Settings
from emulator.controls import HeaderControls
from emulator.delivery import Deliver, FixtureSource, GeneratorSource
from emulator.errors import AuthenticationFailed
from emulator.memo import AnswerMemo
from emulator.operations import OperationNames
from emulator.pipeline import Match, Validate
from emulator.routing import compile_route
from emulator.spec import Operation, load_specs

pytestmark = pytest.mark.anyio
SETTINGS = Settings()
OPERATIONS = {op.operation_id: op for spec in load_specs(SETTINGS.spec_dir) for op in spec.operations}
NAMES = OperationNames(OPERATIONS.values())
CHAT, MODELS = "api_v2_chat_completions_create", "api_v2_models_list"


def route(operation_id: str, handler: Handler) -> Route:
    return compile_route(OPERATIONS[operation_id], handler, NAMES, SETTINGS)


def make_call(operation_id: str, handler: Handler, body: Any = None, headers: Mapping[str, str] = {}) -> Call:
    raw = json.dumps(body).encode() if body is not None else b""
    operation: Operation = OPERATIONS[operation_id]
    sent = [False]

    async def receive() -> dict[str, Any]:
        if sent[0]:
            return {"type": "http.disconnect"}
        sent[0] = True
        return {"type": "http.request", "body": raw, "more_body": False}

    sent_headers = {"content-type": "application/json", "content-length": str(len(raw)), **headers}
    scope = {"type": "http", "method": operation.method, "path": operation.path, "query_string": b"",
             "headers": [(k.lower().encode(), v.encode()) for k, v in sent_headers.items()]}
    return Call(Request(scope, receive), route(operation_id, handler))


class FakeScript:
    """A fixture use that answers with fixed text, or a scripted error."""

    def __init__(self, text: str = "scripted", error: bool = False):
        self.name, self.response, self.text, self.error = "fake", {"content": text}, text, error
        self.effects_left = 0

    @property
    def is_error(self) -> bool:
        return self.error

    def error_response(self, answering: bool) -> Response:
        return Response(b'{"detail":"scripted"}', status_code=418, media_type="application/json")

    def leave_effects(self, call: Call) -> None:
        self.effects_left += 1

    def respond(self, draft: Draft[Any]) -> Answer | Response:
        if self.error:
            return self.error_response(answering=True)
        return Answer((Choice(index=0, pieces=(self.text,), finish_reason="stop"),), draft.prompt_tokens)

    def render(self, template: str) -> str:
        return template


class FakeScripts:
    def __init__(self, script: FakeScript | None = None):
        self.script, self.asked = script, 0

    async def match(self, call: Call, recorded_only: bool = False) -> FakeScript | None:
        if recorded_only:  # the fakes hold no recorded exchange
            return None
        self.asked += 1
        return self.script


def chat_draft(call: Call) -> Draft[Answer]:
    def generate() -> Answer:
        return Answer((Choice(index=0, pieces=("generated",), finish_reason="stop"),), 3)

    return Draft(call=call, n=1, stream=False, prompt_tokens=3, generate=generate,
                 body_of=lambda answer: {"text": "".join(answer.choices[0].pieces)})


async def drafting(call: Call) -> Draft[Answer]:
    return chat_draft(call)


def deliver(scripts: FakeScripts, **kwargs: Any) -> Deliver:
    return Deliver(AnswerMemo(enabled=False), HeaderControls(), Match(scripts), **kwargs)


async def test_validate_keeps_the_key_that_authenticated_the_call() -> None:
    call = make_call(CHAT, drafting, {"model": "alfred-4.2", "messages": []}, {"Authorization": "Bearer k-1"})
    await Validate(("k-1",))(call)
    assert call.api_key == "k-1"
    assert call.body == {"model": "alfred-4.2", "messages": []}


async def test_validate_refuses_a_key_it_was_not_built_with() -> None:
    call = make_call(CHAT, drafting, {"model": "alfred-4.2", "messages": []}, {"Authorization": "Bearer k-2"})
    with pytest.raises(AuthenticationFailed):
        await Validate(("k-1",))(call)
    assert call.api_key is None


async def test_the_generator_answers_a_model_call_no_fixture_matched() -> None:
    call = make_call(CHAT, drafting)
    response = await deliver(FakeScripts())(call)
    assert json.loads(bytes(response.body)) == {"text": "generated"}


async def test_the_fixture_that_matched_answers_before_the_generator() -> None:
    call = make_call(CHAT, drafting)
    call.script = FakeScript("from the fixture")
    response = await deliver(FakeScripts())(call)
    assert json.loads(bytes(response.body)) == {"text": "from the fixture"}


async def test_a_source_before_the_handler_answers_any_operation_and_the_handler_never_runs() -> None:
    ran: list[str] = []

    async def handler(call: Call) -> Response:
        ran.append(call.operation.operation_id)
        return Response(b"{}", media_type="application/json")

    class Upstream:
        async def answer(self, call: Call) -> Response | None:
            return Response(b'{"from":"upstream"}', media_type="application/json")

    step = deliver(FakeScripts(), sources=[Upstream()])
    for operation_id in (MODELS, CHAT):
        response = await step(make_call(operation_id, handler))
        assert bytes(response.body) == b'{"from":"upstream"}'
    assert ran == []


async def test_a_source_before_the_handler_may_pass_the_call_on() -> None:
    class Passing:
        async def answer(self, call: Call) -> Response | None:
            return None

    response = await deliver(FakeScripts(), sources=[Passing()])(make_call(CHAT, drafting))
    assert json.loads(bytes(response.body)) == {"text": "generated"}


async def test_a_draft_source_joins_the_list_without_touching_the_handler() -> None:
    class Replay:
        async def answer(self, call: Call, draft: Draft[Any]) -> Any | None:
            return Answer((Choice(index=0, pieces=("replayed",), finish_reason="stop"),), draft.prompt_tokens)

    step = deliver(FakeScripts(), draft_sources=[FixtureSource(), Replay(), GeneratorSource()])
    response = await step(make_call(CHAT, drafting))
    assert json.loads(bytes(response.body)) == {"text": "replayed"}


async def test_a_fixture_of_an_operation_that_is_not_a_model_call_answers_with_its_error() -> None:
    async def models(call: Call) -> Response:
        raise AssertionError("the handler must not run when the fixture answers with an error")

    call = make_call(MODELS, models)
    call.script = FakeScript(error=True)
    response = await deliver(FakeScripts())(call)
    assert response.status_code == 418


async def test_a_route_matched_late_is_matched_after_its_handler_drafted() -> None:
    order: list[str] = []
    scripts = FakeScripts(FakeScript())

    async def turn(call: Call) -> Draft[str]:
        order.append("drafted")
        call.turn_context = {"index": 0}

        async def finish(source: str) -> Response:
            order.append(source)
            return Response(source.encode(), media_type="text/plain")

        return Draft(call=call, n=None, stream=False, prompt_tokens=0, generate=lambda: "generated",
                     body_of=lambda _: {}, scripted=lambda script: "scripted", finish=finish)

    call = make_call("api_v3_threads_turns_create", turn)
    assert call.route.matched_late
    await Match(scripts)(call)
    assert scripts.asked == 0  # the match stage leaves it to the delivery step
    response = await deliver(scripts)(call)
    assert scripts.asked == 1 and bytes(response.body) == b"scripted"
    assert order == ["drafted", "scripted"]
    assert scripts.script is not None and scripts.script.effects_left == 1
