"""Tool calls and structured output from the generator (no fixture matched).

* ``tools`` (or legacy ``functions``) with ``tool_choice`` ``"required"`` or a named function:
  the answer is one call of that function, whose arguments are a JSON instance of its
  ``parameters`` schema. ``"required"`` picks the tool the last user message mentions most
  (else one chosen by the request's seed). A named choice finishes with ``stop`` (as vLLM
  does), the others with ``tool_calls``. A legacy ``functions`` request (no ``tools``) is
  answered in its own shape: ``message.function_call`` and ``finish_reason: "function_call"``.
* ``"auto"`` (the default when tools are given) follows one rule: the answer is a tool call
  when the last message is the user's and shares a word (3+ letters, not a stop word) with a
  tool's name or description; the tool sharing the most words is called (ties: the first
  listed). After a tool result, or when nothing is shared, the answer is prose. So a scripted
  agent loop always ends.
* ``response_format`` ``json_object`` / ``json_schema``, and vLLM's ``guided_json``,
  ``guided_choice`` and ``guided_regex``: content that is valid JSON for the schema (one of
  the choices; a string matching the regex).

Everything is drawn from ``generator.rng_for(key)``: the same request gives the same
arguments, byte for byte. ``instance`` knows types, properties, required, enum, const,
$ref, allOf/anyOf/oneOf, arrays (items, prefixItems, minItems, maxItems, uniqueItems),
string lengths, formats and patterns, and number bounds.

Every output has a budget (``budget.Budget``: --max-structured-values, --max-structured-depth),
shared by the ``n`` choices of a request: a schema that asks for more is a 400 naming the limit and
its flag as soon as the budget runs out. Every error names the field the client sent (``tools``,
``functions``, ``response_format``, ``guided_json``, ``guided_regex``).
"""

from __future__ import annotations

import json
import random
import re
from typing import Any

from ..answer import Choice, ToolCall
from ..errors import BadRequest
from ..tokenizer import message_text, tokenize
from .budget import Budget, budget_for
from .instances import instance
from .regex_text import regex_instance
from .text import Limits, rng_for

__all__ = ["Budget", "chat_choice", "instance", "regex_instance"]

# The words a tool's name and description are not matched on when the generator picks the tool a
# message asks for. Not the documents' stop words (documents/summaries.py): this list decides which
# tool a request gets, so it is the generator's own, and changing it changes answers.
_STOP_WORDS = frozenset("the and for with this that from what which your you are was get set use can will "
                        "how its has have into about when where who why not all any one per via does".split())
_WORD = re.compile(r"[a-z0-9]+")


# A request with none of these keys is answered in prose: no need to seed anything for it.
_ASKS_FOR_STRUCTURE = ("tools", "functions", "tool_choice", "function_call", "response_format", "guided_json",
                       "guided_choice", "guided_regex")
# The field an error names before the generator knows which part it follows: the first one sent.
_FIELDS = ("tools", "functions", "guided_regex", "guided_json", "response_format")


def chat_choice(index: int, key: bytes, body: dict[str, Any], limits: Limits,
                budget: Budget | None = None) -> Choice | None:
    """A structured choice when the request asks for one, else None (plain prose)."""
    if not any(name in body for name in _ASKS_FOR_STRUCTURE):
        return None
    with budget_for(budget or Budget()) as spending:
        spending.field = next((name for name in _FIELDS if body.get(name) is not None), spending.field)
        try:
            return _chat_choice(index, key, body, limits, spending)
        except (TypeError, AttributeError, ValueError, LookupError, RecursionError, OverflowError) as exc:
            # A schema this generator cannot follow is the client's to fix, never a 500.
            raise BadRequest(f"Cannot generate output for this JSON schema: {type(exc).__name__}: {exc}",
                             param=spending.field) from None


def guided_text(key: bytes, guided: dict[str, Any], budget: Budget | None = None) -> str | None:
    """The text that ``guided_json`` / ``guided_choice`` / ``guided_regex`` ask for, made as chat
    makes it (the same rules, the same budget), or None when ``guided`` asks for none of them."""
    if not any(name in guided for name in ("guided_json", "guided_choice", "guided_regex")):
        return None
    with budget_for(budget or Budget()) as spending:
        spending.field = next((name for name in _FIELDS if guided.get(name) is not None), spending.field)
        try:
            return _structured_text(guided, rng_for(key, "structured"), spending)
        except (TypeError, AttributeError, ValueError, LookupError, RecursionError, OverflowError) as exc:
            raise BadRequest(f"Cannot generate output for this JSON schema: {type(exc).__name__}: {exc}",
                             param=spending.field) from None


def _chat_choice(index: int, key: bytes, body: dict[str, Any], limits: Limits,
                 spending: Budget) -> Choice | None:
    rng = rng_for(key, "structured")
    tool = _tool_to_call(body, rng)
    if tool is not None:
        name, parameters, named = tool
        spending.field = "tools" if body.get("tools") else "functions"
        arguments = json.dumps(instance(parameters, rng), ensure_ascii=False)
        call = ToolCall(id="chatcmpl-tool-" + _hex(rng), name=name, arguments=arguments)
        legacy = not body.get("tools") and bool(body.get("functions"))
        finish = "stop" if named else "function_call" if legacy else "tool_calls"
        return Choice(index=index, pieces=(), finish_reason=finish, tool_calls=(call,),
                      function_call=legacy)
    text = _structured_text(body, rng, spending)
    if text is None:
        return None
    pieces = tokenize(text)
    if len(pieces) > limits.max_tokens:
        return Choice(index=index, pieces=tuple(pieces[:limits.max_tokens]), finish_reason="length")
    return Choice(index=index, pieces=tuple(pieces), finish_reason="stop")


# -- tools -----------------------------------------------------------------------------------------


def _tools(body: dict[str, Any]) -> list[tuple[str, Any, str]]:
    """(name, parameters schema, description) of each tool or legacy function."""
    found = []
    for tool in body.get("tools") or ():
        function = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            found.append((function["name"], function.get("parameters") or {"type": "object"},
                          str(function.get("description") or "")))
    for function in body.get("functions") or ():
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            found.append((function["name"], function.get("parameters") or {"type": "object"},
                          str(function.get("description") or "")))
    return found


def _tool_choice(body: dict[str, Any]) -> Any:
    if "tool_choice" in body and body["tool_choice"] is not None:
        choice = body["tool_choice"]
    else:
        choice = body.get("function_call")
    if isinstance(choice, dict):
        inner = choice.get("function")
        function = inner if isinstance(inner, dict) else choice
        return {"name": function.get("name")}
    return choice if choice in ("none", "auto", "required") else None


def _tool_to_call(body: dict[str, Any], rng: random.Random) -> tuple[str, Any, bool] | None:
    tools = _tools(body)
    choice = _tool_choice(body)
    if not tools:
        if choice == "required" or isinstance(choice, dict):
            raise BadRequest("When using `tool_choice`, `tools` must be set.", param="tool_choice")
        return None
    if choice == "none":
        return None
    if isinstance(choice, dict):
        for name, parameters, _ in tools:
            if name == choice["name"]:
                return name, parameters, True
        raise BadRequest(f"Tool '{choice['name']}' has not been passed in `tools` "
                         f"(tools: {', '.join(t[0] for t in tools)}).", param="tool_choice")
    messages = [m for m in body.get("messages") or () if isinstance(m, dict)]
    last = messages[-1] if messages else {}
    best = _best_tool(tools, message_text(last.get("content"))) if last.get("role") == "user" else None
    if choice == "required":
        name, parameters, _ = best or tools[rng.randrange(len(tools))]
        return name, parameters, False
    if best is None:  # auto
        return None
    return best[0], best[1], False


def _words(text: str) -> set[str]:
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", text).lower()
    return {w for w in _WORD.findall(spaced) if len(w) >= 3 and w not in _STOP_WORDS}


def _best_tool(tools: list[tuple[str, Any, str]], text: str) -> tuple[str, Any, str] | None:
    asked = _words(text)
    best, best_score = None, 0
    for tool in tools:
        score = len(asked & _words(tool[0].replace("_", " ") + " " + tool[2]))
        if score > best_score:
            best, best_score = tool, score
    return best


# -- response_format and guided decoding ------------------------------------------------------------


def _structured_text(body: dict[str, Any], rng: random.Random, spending: Budget) -> str | None:
    choices = body.get("guided_choice")
    if isinstance(choices, list) and choices:
        return str(rng.choice(choices))
    pattern = body.get("guided_regex")
    if isinstance(pattern, str):
        spending.field = "guided_regex"
        return regex_instance(pattern, rng)
    schema, param = body.get("guided_json"), "guided_json"
    if schema is None:
        schema, param = _response_format_schema(body.get("response_format")), "response_format"
    elif isinstance(schema, str):
        try:
            schema = json.loads(schema)
        except ValueError:
            raise BadRequest("guided_json must be a JSON schema (an object, or its JSON text).",
                             param="guided_json") from None
    if schema is None:
        return None
    spending.field = param
    if not isinstance(schema, (dict, bool)):
        raise BadRequest(f"The JSON schema must be an object, got {json.dumps(schema)[:60]}.", param=param)
    return json.dumps(instance(schema, rng), ensure_ascii=False)


def _response_format_schema(response_format: Any) -> Any:
    if not isinstance(response_format, dict):
        return None
    kind = response_format.get("type")
    if kind == "json_object":
        return {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        schema = spec.get("schema", spec.get("json_schema")) if isinstance(spec, dict) else None
        if schema is None:
            raise BadRequest("response_format json_schema needs json_schema.schema.", param="response_format")
        return schema
    return None


def _hex(rng: random.Random) -> str:
    return f"{rng.getrandbits(128):032x}"
