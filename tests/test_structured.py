"""Tool calls and structured output from the generator, validated with jsonschema."""

from __future__ import annotations

import json
import re

import jsonschema
import openai
import pytest


@pytest.fixture(autouse=True)
def clean_emulator(emulator):
    """Each test starts from a reset emulator and leaves one behind (the session server is shared)."""
    yield
    emulator.reset()


WEATHER = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "minLength": 2},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "days": {"type": "integer", "minimum": 1, "maximum": 7},
        "when": {"type": "string", "format": "date"},
    },
    "required": ["city", "unit", "days"],
    "additionalProperties": False,
}
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city",
            "parameters": WEATHER,
        },
    },
    {
        "type": "function",
        "function": {
            "name": "send_email",
            "description": "Send an email message",
            "parameters": {
                "type": "object",
                "properties": {
                    "to": {"type": "string", "format": "email"},
                    "subject": {"type": "string", "maxLength": 20},
                },
                "required": ["to", "subject"],
            },
        },
    },
]
ASK_WEATHER = [{"role": "user", "content": "What is the weather in Paris?"}]
ASK_NOTHING = [{"role": "user", "content": "Tell me a story."}]

SCHEMAS = [
    pytest.param(WEATHER, id="flat-object"),
    pytest.param(
        {
            "type": "object",
            "properties": {
                "people": {
                    "type": "array",
                    "minItems": 2,
                    "maxItems": 4,
                    "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "age": {"type": "integer", "minimum": 0},
                            "email": {"type": "string", "format": "email"},
                        },
                        "required": ["name", "age"],
                    },
                }
            },
            "required": ["people"],
        },
        id="nested-array-of-objects",
    ),
    pytest.param(
        {
            "$defs": {
                "point": {
                    "type": "object",
                    "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
                    "required": ["x", "y"],
                }
            },
            "type": "object",
            "properties": {"a": {"$ref": "#/$defs/point"}, "b": {"$ref": "#/$defs/point"}},
            "required": ["a", "b"],
        },
        id="refs",
    ),
    pytest.param(
        {
            "type": "object",
            "properties": {
                "kind": {"const": "invoice"},
                "total": {"type": "number", "exclusiveMinimum": 0, "maximum": 10},
                "code": {"type": "string", "pattern": "^[A-Z]{3}-\\d{4}$"},
                "id": {"type": "string", "format": "uuid"},
                "paid": {"type": "boolean"},
                "note": {"type": ["string", "null"]},
                "tags": {
                    "type": "array",
                    "items": {"enum": ["a", "b", "c"]},
                    "uniqueItems": True,
                    "minItems": 3,
                },
            },
            "required": ["kind", "total", "code", "id", "paid", "note", "tags"],
        },
        id="keywords",
    ),
    pytest.param(
        {
            "anyOf": [
                {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]},
                {"type": "string", "minLength": 5},
            ]
        },
        id="any-of",
    ),
]


def test_required_tool_choice_calls_a_tool_with_valid_arguments(client):
    response = client.chat.completions.create(
        model="alfred-4.2", messages=ASK_WEATHER, tools=TOOLS, tool_choice="required"
    )
    call = response.choices[0].message.tool_calls[0]
    assert response.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather"  # the one the question mentions
    jsonschema.validate(json.loads(call.function.arguments), WEATHER)


def test_named_tool_choice_calls_that_tool_and_finishes_with_stop(client):
    response = client.chat.completions.create(
        model="alfred-4.2",
        messages=ASK_WEATHER,
        tools=TOOLS,
        tool_choice={"type": "function", "function": {"name": "send_email"}},
    )
    call = response.choices[0].message.tool_calls[0]
    assert (call.function.name, response.choices[0].finish_reason) == ("send_email", "stop")
    jsonschema.validate(
        json.loads(call.function.arguments),
        TOOLS[1]["function"]["parameters"],
        format_checker=jsonschema.FormatChecker(),
    )


def test_generated_arguments_are_deterministic(client):
    def arguments():
        response = client.chat.completions.create(
            model="alfred-4.2", messages=ASK_WEATHER, tools=TOOLS, tool_choice="required"
        )
        return response.choices[0].message.tool_calls[0].function.arguments, response.choices[
            0
        ].message.tool_calls[0].id

    assert arguments() == arguments()


@pytest.mark.parametrize("seed", range(12))
def test_generated_arguments_validate_whatever_the_request(client, seed):
    response = client.chat.completions.create(
        model="alfred-4.2",
        messages=ASK_WEATHER,
        tools=TOOLS,
        seed=seed,
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
    )
    jsonschema.validate(
        json.loads(response.choices[0].message.tool_calls[0].function.arguments),
        WEATHER,
        format_checker=jsonschema.FormatChecker(),
    )


def test_streamed_tool_call_deltas_rebuild_the_same_call(client):
    plain = (
        client.chat.completions.create(
            model="alfred-4.2", messages=ASK_WEATHER, tools=TOOLS, tool_choice="required"
        )
        .choices[0]
        .message.tool_calls[0]
    )
    name, arguments, ids, finish = "", "", set(), None
    for chunk in client.chat.completions.create(
        model="alfred-4.2", messages=ASK_WEATHER, tools=TOOLS, tool_choice="required", stream=True
    ):
        for delta in chunk.choices[0].delta.tool_calls or ():
            name += delta.function.name or ""
            arguments += delta.function.arguments or ""
            ids.add(delta.id) if delta.id else None
        finish = chunk.choices[0].finish_reason or finish
    assert (name, arguments, ids, finish) == (
        plain.function.name,
        plain.function.arguments,
        {plain.id},
        "tool_calls",
    )


@pytest.mark.parametrize(
    "messages, called",
    [
        pytest.param(ASK_WEATHER, "get_weather", id="mentions-weather"),
        pytest.param(
            [{"role": "user", "content": "Please email Bob about lunch"}], "send_email", id="mentions-email"
        ),
        pytest.param(ASK_NOTHING, None, id="mentions-no-tool"),
        pytest.param(
            [
                *ASK_WEATHER,
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": "{}"},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
            ],
            None,
            id="after-a-tool-result",
        ),
    ],
)
def test_auto_tool_choice_follows_the_documented_rule(client, messages, called):
    response = client.chat.completions.create(model="alfred-4.2", messages=messages, tools=TOOLS)
    choice = response.choices[0]
    names = [c.function.name for c in choice.message.tool_calls or ()]
    assert names == ([called] if called else [])
    assert choice.finish_reason == ("tool_calls" if called else "stop")
    assert bool(choice.message.content) == (called is None)  # prose when no tool is called


def test_tool_choice_none_answers_in_prose(client):
    response = client.chat.completions.create(
        model="alfred-4.2", messages=ASK_WEATHER, tools=TOOLS, tool_choice="none"
    )
    assert response.choices[0].message.tool_calls in (None, []) and response.choices[0].message.content


LEGACY = {"model": "alfred-4.2", "messages": ASK_WEATHER, "function_call": "auto",
          "functions": [{"name": "get_weather", "description": "weather", "parameters": WEATHER}]}


def test_legacy_functions_are_answered_with_a_function_call(client):
    # The documented ChatMessageResponse (and vLLM, and the openai SDK) read message.function_call.
    response = client.chat.completions.create(model="alfred-4.2", messages=ASK_WEATHER,
                                              functions=LEGACY["functions"], function_call="auto")

    choice = response.choices[0]
    assert choice.finish_reason == "function_call"
    assert choice.message.function_call.name == "get_weather"
    jsonschema.validate(json.loads(choice.message.function_call.arguments), WEATHER)
    assert not choice.message.tool_calls


def test_a_streamed_legacy_function_call_arrives_in_function_call_deltas(http):
    with http.stream("POST", "/api/v2/chat/completions", json={**LEGACY, "stream": True}) as response:
        chunks = [json.loads(line[6:]) for line in response.iter_lines()
                  if line.startswith("data: ") and line != "data: [DONE]"]
    deltas = [c["choices"][0]["delta"] for c in chunks]
    answer = http.post("/api/v2/chat/completions", json=LEGACY).json()
    plain = answer["choices"][0]["message"]["function_call"]

    assert not any("tool_calls" in d for d in deltas)
    assert deltas[1]["function_call"]["name"] == "get_weather"
    assert "".join(d["function_call"]["arguments"] for d in deltas[1:]) == plain["arguments"]
    assert chunks[-1]["choices"][0]["finish_reason"] == "function_call"


def test_tools_next_to_legacy_functions_answer_in_the_tools_shape(http):
    body = {**LEGACY, "tools": TOOLS, "tool_choice": "auto"}
    del body["function_call"]
    choice = http.post("/api/v2/chat/completions", json=body).json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["tool_calls"]


@pytest.mark.parametrize(
    "tool_choice, message",
    [
        pytest.param(
            {"type": "function", "function": {"name": "nope"}},
            "Tool 'nope' has not been passed in `tools`",
            id="unknown-tool",
        ),
    ],
)
def test_a_tool_choice_naming_an_unknown_tool_is_a_400(client, tool_choice, message):
    with pytest.raises(openai.BadRequestError, match=re.escape(message)):
        client.chat.completions.create(
            model="alfred-4.2", messages=ASK_WEATHER, tools=TOOLS, tool_choice=tool_choice
        )


def test_required_tool_choice_without_tools_is_a_400(client):
    with pytest.raises(openai.BadRequestError, match="`tools` must be set"):
        client.chat.completions.create(model="alfred-4.2", messages=ASK_WEATHER, tool_choice="required")


@pytest.mark.parametrize("schema", SCHEMAS)
def test_json_schema_response_format_gives_valid_content(client, schema):
    response = client.chat.completions.create(
        model="alfred-4.2",
        messages=ASK_NOTHING,
        response_format={"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}},
    )
    jsonschema.validate(
        json.loads(response.choices[0].message.content), schema, format_checker=jsonschema.FormatChecker()
    )


@pytest.mark.parametrize("schema", SCHEMAS)
def test_guided_json_gives_valid_content(client, schema):
    response = client.chat.completions.create(
        model="alfred-4.2", messages=ASK_NOTHING, extra_body={"guided_json": schema}
    )
    jsonschema.validate(json.loads(response.choices[0].message.content), schema)


def test_guided_json_may_be_json_text(client):
    response = client.chat.completions.create(
        model="alfred-4.2", messages=ASK_NOTHING, extra_body={"guided_json": json.dumps(WEATHER)}
    )
    jsonschema.validate(json.loads(response.choices[0].message.content), WEATHER)


def test_json_object_response_format_gives_an_object(client):
    response = client.chat.completions.create(
        model="alfred-4.2", messages=ASK_NOTHING, response_format={"type": "json_object"}
    )
    assert isinstance(json.loads(response.choices[0].message.content), dict)


def test_structured_content_is_the_same_streamed(client):
    fmt = {"type": "json_schema", "json_schema": {"name": "w", "schema": WEATHER}}
    plain = client.chat.completions.create(model="alfred-4.2", messages=ASK_NOTHING, response_format=fmt)
    streamed = "".join(
        c.choices[0].delta.content or ""
        for c in client.chat.completions.create(
            model="alfred-4.2", messages=ASK_NOTHING, response_format=fmt, stream=True
        )
    )
    assert streamed == plain.choices[0].message.content


def test_max_tokens_cuts_structured_content(client):
    response = client.chat.completions.create(
        model="alfred-4.2",
        messages=ASK_NOTHING,
        max_tokens=3,
        response_format={"type": "json_schema", "json_schema": {"name": "w", "schema": WEATHER}},
    )
    assert response.choices[0].finish_reason == "length" and response.usage.completion_tokens == 3


def test_guided_choice_picks_one_of_the_choices(client):
    response = client.chat.completions.create(
        model="alfred-4.2", messages=ASK_NOTHING, extra_body={"guided_choice": ["positive", "negative"]}
    )
    assert response.choices[0].message.content in ("positive", "negative")


@pytest.mark.parametrize("pattern", [r"^\d{3}-\d{4}$", r"^(yes|no)$", r"^[A-Z][a-z]{2,8}@[a-z]+\.com$"])
def test_guided_regex_content_matches(client, pattern):
    response = client.chat.completions.create(
        model="alfred-4.2", messages=ASK_NOTHING, extra_body={"guided_regex": pattern}
    )
    assert re.search(pattern, response.choices[0].message.content)


def test_a_json_schema_that_is_not_an_object_is_a_400(http):
    body = {"model": "alfred-4.2", "messages": ASK_NOTHING, "guided_json": "not json"}
    response = http.post("/api/v2/chat/completions", json=body)
    assert response.status_code == 400 and response.json()["error"]["param"] == "guided_json"


@pytest.mark.parametrize(
    "value", [pytest.param("[1, 2]", id="text-of-a-list"), pytest.param([1], id="a-list")]
)
def test_a_guided_json_that_is_not_a_schema_is_a_400_naming_it(http, value):
    body = {"model": "alfred-4.2", "messages": ASK_NOTHING, "guided_json": value}
    response = http.post("/api/v2/chat/completions", json=body)
    assert response.status_code == 400, response.text
    assert "guided_json" in response.text


@pytest.mark.parametrize(
    "schema",
    [
        pytest.param({"type": "object", "properties": ["not", "a", "mapping"]}, id="properties-a-list"),
        pytest.param(
            {"type": "object", "properties": {"me": {"$ref": "#"}}, "required": ["me"]}, id="recursive-ref"
        ),
        pytest.param({"type": "number", "multipleOf": 0}, id="multiple-of-zero"),
        pytest.param({"type": "array", "minItems": 10**9}, id="huge-min-items"),
        pytest.param({"type": "string", "pattern": "a{100000}"}, id="huge-repeat"),
        pytest.param({"$ref": "#/nowhere"}, id="dangling-ref"),
        pytest.param({"type": 5, "enum": []}, id="nonsense-type"),
    ],
)
def test_a_schema_the_generator_cannot_follow_is_never_a_500(http, schema):
    body = {"model": "alfred-4.2", "messages": ASK_NOTHING, "guided_json": schema}
    response = http.post("/api/v2/chat/completions", json=body)
    assert response.status_code in (200, 400), response.text
