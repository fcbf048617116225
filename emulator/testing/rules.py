"""Scripted answers in Python that read aloud, built on the fixture model of the YAML files.

``Rule`` is a fixture under construction: ``on_chat(contains="weather")`` gives its ``match``,
each verb (``reply``, ``reply_tool_call``, ``stream``, ``fail``, ``reply_embeddings``, ``respond``)
appends one response, and the ``then_`` forms say the same for the calls that follow::

    emu.on_chat(contains="weather").reply_tool_call("get_weather", {"city": "Paris"}).then_reply("Sunny")
    emu.on_chat().fail(429, retry_after=1).then_reply("ok")
    emu.on_chat(contains="story").stream(["Once", " upon"], itl_ms=20).truncate_after(3)

Modifiers (``truncate_after``, ``error_after``, ``drop_after``, ``with_headers``, ``with_delay``,
``with_usage``, ``with_timing``, ``and_tool_call``) change the last response. The k-th matching
call gets the k-th response and the last one repeats, unless ``times`` stops the rule.

A rule only builds dicts (``rule.fixture``, the exact shape ``emulator.scripts.add`` and the
control API accept); after every change it hands the new dict to ``publish``, which the test
handle uses to swap it in on the running emulator. Nothing here talks to a server. The ``match``
part comes from ``matches``, the verbs' response dicts from ``responses``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .matches import MATCH_CONDITIONS, RULE_OPTIONS, UnknownCondition, build_match, text_matcher
from .responses import error_type, event_count, seconds, tool_call, with_options

__all__ = ["MATCH_CONDITIONS", "RULE_OPTIONS", "Rule", "UnknownCondition", "build_match", "error_type",
           "text_matcher"]


class Rule:
    """One scripted fixture; every method returns the rule, so a whole script is one expression."""

    def __init__(self, match: dict[str, Any], name: str, publish: Callable[[Rule], None] = lambda rule: None,
                 times: int | None = None, priority: int | None = None, turn: bool = False):
        self.name = name
        self.turn = turn  # a v3 turn's rule (on_turn): fail() makes a failed turn, not an HTTP error
        self.match = match
        self.responses: list[dict[str, Any]] = []
        self._times = times
        self._priority = priority
        self._publish = publish

    # -- the fixture this rule stands for ---------------------------------------------------------

    @property
    def fixture(self) -> dict[str, Any]:
        fixture: dict[str, Any] = {"name": self.name, "match": copy.deepcopy(self.match)}
        if self._priority is not None:
            fixture["priority"] = self._priority
        if self._times is not None:
            fixture["times"] = self._times
        responses = self.responses or [{}]  # no verb yet: the generator answers, the rule still counts
        if len(responses) == 1:
            fixture["response"] = copy.deepcopy(responses[0])
        else:
            fixture["responses"] = copy.deepcopy(responses)
        return fixture

    def _changed(self) -> Rule:
        self._publish(self)
        return self

    def _append(self, response: dict[str, Any]) -> Rule:
        self.responses.append(response)
        return self._changed()

    def _last(self) -> dict[str, Any]:
        if not self.responses:  # a modifier alone shapes the generator's answer
            self.responses.append({})
        return self.responses[-1]

    # -- responses: each verb adds the answer to the next matching call ---------------------------

    def reply(self, content: str | None = None, *, finish_reason: str | None = None,
              **options: Any) -> Rule:
        """Answer with ``content`` (templated: {{last_user_message}}, {{model}}, {{body.x}});
        without it, with the generator's text. Options: usage, headers, delay_ms, ttft_ms, itl_ms."""
        response: dict[str, Any] = {}
        if content is not None:
            if not isinstance(content, str):
                raise TypeError(f"reply() takes the answer text as a string, not {content!r}")
            response["content"] = content
        if finish_reason is not None:
            response["finish_reason"] = finish_reason
        return self._append(with_options(response, options, "reply"))

    def reply_tool_call(
        self,
        name: str,
        arguments: Mapping[str, Any] | str | None = None,
        *,
        id: str | None = None,
        result: str | None = None,
        sources: Iterable[Mapping[str, Any]] | None = None,
        mcp_server: str | None = None,
        artifacts: Iterable[Mapping[str, Any]] | None = None,
        **options: Any,
    ) -> Rule:
        """Answer with a call of tool ``name`` (``finish_reason`` becomes "tool_calls"). A v3 turn's
        tool call may give its ``result`` text and ``sources`` ([{"file_id": 3, "page": 1, "text": ...}]);
        a document tool without a result runs for real. ``name`` may be a tool of one of the turn's MCP
        servers (``mcp_server``, a name or id, says which); without a result it returns the one the
        agents file scripts. ``artifacts`` ([{"name": "report.csv", "content": ..., "mime_type": ...}])
        are the files the call produces. ``and_reply`` adds the turn's final text."""
        call = tool_call(name, arguments, id)
        if result is not None:
            call["result"] = result
        if sources is not None:
            call["sources"] = [dict(source) for source in sources]
        if mcp_server is not None:
            call["mcp_server"] = mcp_server
        if artifacts is not None:
            call["artifacts"] = [dict(artifact) for artifact in artifacts]
        return self._append(with_options({"tool_calls": [call]}, options, "reply_tool_call"))

    def and_reply(self, content: str) -> Rule:
        """The final text of the same answer (a v3 turn: after its tool calls)."""
        if not isinstance(content, str):
            raise TypeError(f"and_reply() takes the answer text as a string, not {content!r}")
        self._last()["content"] = content
        return self._changed()

    def and_tool_call(self, name: str, arguments: Mapping[str, Any] | str | None = None, *,
                      id: str | None = None) -> Rule:
        """One more tool call in the same answer (parallel tool calls)."""
        last = self.responses[-1] if self.responses else {}
        if "tool_calls" not in last:
            raise ValueError(f"and_tool_call({name!r}) adds a call to the answer of reply_tool_call(): "
                             "call reply_tool_call() first")
        last["tool_calls"].append(tool_call(name, arguments, id))
        return self._changed()

    def stream(self, chunks: Iterable[str], *, itl_ms: float | None = None, ttft_ms: float | None = None,
               chunk_delays_ms: Iterable[float] | None = None, **options: Any) -> Rule:
        """Answer with exactly these stream deltas (their concatenation when the call is not streamed)."""
        if isinstance(chunks, str):
            raise TypeError(f"stream() takes a list of chunks, not the string {chunks!r}: "
                            f"write stream([{chunks!r}]) or split it")
        pieces = list(chunks)
        if not all(isinstance(piece, str) for piece in pieces):
            raise TypeError(f"stream() chunks must all be strings, got {pieces!r}")
        response: dict[str, Any] = {"chunks": pieces}
        if chunk_delays_ms is not None:
            response["chunk_delays_ms"] = list(chunk_delays_ms)
        options.update({k: v for k, v in (("itl_ms", itl_ms), ("ttft_ms", ttft_ms)) if v is not None})
        return self._append(with_options(response, options, "stream"))

    def reply_embeddings(self, vectors: Iterable[Iterable[float]], **options: Any) -> Rule:
        """Answer an embeddings call with these vectors (one per input)."""
        rows = [list(vector) for vector in vectors]
        return self._append(with_options({"embeddings": rows}, options, "reply_embeddings"))

    def fail(
        self,
        status: int | str | None = None,
        message: str | None = None,
        *,
        retry_after: float | None = None,
        body: Any = None,
        headers: Mapping[str, Any] | None = None,
        code: str | None = None,
    ) -> Rule:
        """Answer with HTTP ``status``. The body is the one the real stack gives for that status, or
        vLLM's {"error": {message, type, param, code}} with ``message``, or ``body`` as given.
        On a turn rule without a status, ``fail("message", code="x")`` makes the turn end ``failed``
        with ``error: {code, message}`` (the HTTP answer is still 200 or 202)."""
        if self.turn and not isinstance(status, int):
            text = status if isinstance(status, str) else message
            return self._append({"failure": {"code": code or "agent_error",
                                             "message": text or "The agent failed to answer."}})
        if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599:
            raise ValueError(f"fail() takes an HTTP error status from 400 to 599, not {status!r}")
        if message is not None and body is not None:
            raise TypeError("give fail() a message= or a body=, not both")
        error: dict[str, Any] = {"status": status}
        if message is not None:
            error["body"] = {
                "error": {"message": message, "type": error_type(status), "param": None, "code": status}
            }
        elif body is not None:
            error["body"] = body
        extra = dict(headers or {})
        if retry_after is not None:
            extra["Retry-After"] = seconds(retry_after)
        if extra:
            error["headers"] = extra
        return self._append({"error": error})

    def respond(self, **response: Any) -> Rule:
        """Any response of the fixture model, as keyword arguments (content=, chunks=, error= ...)."""
        return self._append(dict(response))

    then_reply = reply
    then_reply_tool_call = reply_tool_call
    then_stream = stream
    then_reply_embeddings = reply_embeddings
    then_fail = fail
    then_and_reply = and_reply
    then_respond = respond

    # -- modifiers of the last response -----------------------------------------------------------

    def truncate_after(self, events: int) -> Rule:
        """End the stream cleanly after ``events`` SSE events (the role chunk is the first): no
        finish_reason, no [DONE]."""
        self._last()["stream"] = {"truncate_after": event_count(events, "truncate_after")}
        return self._changed()

    def error_after(self, events: int, message: str = "The model server failed while streaming.",
                    type: str = "InternalServerError", code: int = 500) -> Rule:
        """After ``events`` SSE events, send an error event, then [DONE] (as vLLM does)."""
        self._last()["stream"] = {
            "error_after": event_count(events, "error_after"),
            "error": {"message": message, "type": type, "param": None, "code": code}}
        return self._changed()

    def drop_after(self, events: int) -> Rule:
        """Cut the connection abruptly after ``events`` SSE events."""
        self._last()["stream"] = {"drop_after": event_count(events, "drop_after")}
        return self._changed()

    def with_headers(self, headers: Mapping[str, Any] | None = None, **named: Any) -> Rule:
        """Add response headers; in keyword form ``x_request_id="7"`` is sent as ``x-request-id: 7``."""
        last = self._last()
        added = dict(headers or {})
        added.update({name.replace("_", "-"): value for name, value in named.items()})
        last["headers"] = {**last.get("headers", {}), **added}
        return self._changed()

    def take_ms(self, ms: float) -> Rule:
        """A v3 turn works this long (then --ttft-ms/--itl-ms pace its answer): past --turn-wait-ms the
        POST answers 202 and the client polls."""
        if not isinstance(ms, (int, float)) or isinstance(ms, bool) or not 0 <= ms <= 600_000:
            raise ValueError(f"take_ms() takes a number of milliseconds from 0 to 600000, not {ms!r}")
        self._last()["duration_ms"] = ms
        return self._changed()

    def cancel(self) -> Rule:
        """A v3 turn that ends ``cancelled`` (as if its user had cancelled it) when its time is up."""
        self._last()["cancelled"] = True
        return self._changed()

    def with_delay(self, ms: float) -> Rule:
        """Wait ``ms`` before sending anything."""
        self._last()["delay_ms"] = ms
        return self._changed()

    def with_timing(self, *, ttft_ms: float | None = None, itl_ms: float | None = None,
                    chunk_delays_ms: Iterable[float] | None = None) -> Rule:
        last = self._last()
        for key, value in (("ttft_ms", ttft_ms), ("itl_ms", itl_ms)):
            if value is not None:
                last[key] = value
        if chunk_delays_ms is not None:
            last["chunk_delays_ms"] = list(chunk_delays_ms)
        return self._changed()

    def with_usage(self, prompt_tokens: int | None = None, completion_tokens: int | None = None,
                   total_tokens: int | None = None) -> Rule:
        usage = {k: v for k, v in (("prompt_tokens", prompt_tokens), ("completion_tokens", completion_tokens),
                                   ("total_tokens", total_tokens)) if v is not None}
        if total_tokens is None and prompt_tokens is not None and completion_tokens is not None:
            usage["total_tokens"] = prompt_tokens + completion_tokens
        self._last()["usage"] = usage
        return self._changed()

    # -- the rule as a whole ----------------------------------------------------------------------

    def times(self, uses: int) -> Rule:
        """Stop matching after ``uses`` calls (later calls fall through to other rules or the generator)."""
        if not isinstance(uses, int) or isinstance(uses, bool) or uses < 1:
            raise ValueError(f"times() takes a number of uses >= 1, not {uses!r}")
        self._times = uses
        return self._changed()

    def once(self) -> Rule:
        return self.times(1)

    def priority(self, value: int) -> Rule:
        """Tried before rules of lower priority (default 0), whatever the order they were added in."""
        self._priority = value
        return self._changed()

    def __repr__(self) -> str:
        return f"<Rule {self.name}: {json.dumps(self.fixture, sort_keys=True)}>"
