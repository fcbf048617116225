"""How to test a tool-calling loop: the model asks for a tool, the application runs it, the model answers.

Script the model's side as a sequence (first a tool call, then the final answer), run the
application's loop, and check in the journal what the application sent back: the tool's
result, under the id of the call it answers.
"""

from __future__ import annotations

import json

import pytest
from openai import OpenAI

TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Current weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]


def get_weather(city: str) -> dict:
    return {"city": city, "sky": "sunny", "celsius": 21}


def run_agent(client: OpenAI, question: str, max_turns: int = 5) -> str:
    """The code under test: call tools until the model gives a final answer."""
    messages = [{"role": "user", "content": question}]
    for _ in range(max_turns):
        reply = client.chat.completions.create(model="alfred-4.2", messages=messages, tools=TOOLS).choices[0]
        if reply.finish_reason != "tool_calls":
            return reply.message.content
        messages.append(reply.message.model_dump(exclude_none=True))
        for call in reply.message.tool_calls:
            result = get_weather(**json.loads(call.function.arguments))
            messages.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)})
    raise RuntimeError("the model never gave a final answer")


def test_the_loop_runs_the_tool_and_returns_the_final_answer(paradigm_emulator, paradigm_client):
    paradigm_emulator.on_chat(contains="weather").reply_tool_call(
        "get_weather", {"city": "Paris"}, id="call_1").then_reply("It is sunny in Paris.")

    assert run_agent(paradigm_client, "What is the weather in Paris?") == "It is sunny in Paris."

    first, second = paradigm_emulator.assert_called("chat", times=2)
    assert first.json["tools"][0]["function"]["name"] == "get_weather"
    tool_message = second.messages[-1]
    assert (tool_message["role"], tool_message["tool_call_id"]) == ("tool", "call_1")
    assert json.loads(tool_message["content"]) == {"city": "Paris", "sky": "sunny", "celsius": 21}


def test_rules_can_match_the_turn_instead_of_counting_calls(paradigm_emulator, paradigm_client):
    # Rules are tried in the order they are added: the tool-result rule goes first.
    paradigm_emulator.on_chat(tool_result=True).reply("Done: {{last_user_message}}")
    paradigm_emulator.on_chat(has_tools=True).reply_tool_call("get_weather", {"city": "Lyon"})

    assert run_agent(paradigm_client, "weather in Lyon?") == "Done: weather in Lyon?"


def test_parallel_tool_calls_are_all_answered(paradigm_emulator, paradigm_client):
    paradigm_emulator.on_chat(tool_result=False).reply_tool_call(
        "get_weather", {"city": "Paris"}
    ).and_tool_call("get_weather", {"city": "Oslo"})
    paradigm_emulator.on_chat(tool_result=True).reply("Paris is warmer than Oslo.")

    assert run_agent(paradigm_client, "Paris or Oslo?") == "Paris is warmer than Oslo."

    answered = [m for m in paradigm_emulator.last.messages if m["role"] == "tool"]
    assert [json.loads(m["content"])["city"] for m in answered] == ["Paris", "Oslo"]


def test_a_model_that_never_stops_calling_tools_is_caught(paradigm_emulator, paradigm_client):
    paradigm_emulator.on_chat().reply_tool_call("get_weather", {"city": "Nowhere"})

    with pytest.raises(RuntimeError, match="never gave a final answer"):
        run_agent(paradigm_client, "loop forever", max_turns=3)
    paradigm_emulator.assert_called("chat", times=3)
