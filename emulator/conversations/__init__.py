"""Paradigm v3 agents, threads and turns: the conversation API.

A *thread* is a conversation with an *agent*; each user query is a *turn*. The whole content
of a turn (its tool calls, their steps and results, the answer's tokens, its sources) is
computed when the turn is created (``plan``), from the query, the thread's history, the agent
and a scripted fixture or the generator, and stored as a value in the state backend with its
start time on the shared clock and its duration (``records``). What a reader sees — running,
completed, failed, cancelling, cancelled, and the parts done so far — is then a function of
the clock (``timeline``), so no task has to survive on one worker: a turn keeps running when
its client goes away, and any worker answers a poll.

    choices.py       every part of the format the docs leave open (SSE events, 4xx bodies ...)
    directory.py     the company, groups, user, tools and agents (fixtures/agents.yaml + state)
    mcp.py           MCP servers and their tools; mcp_calls.py: a turn's calls of them
    turns.py         the turn logic (TurnService): what a request names, its plan, its record
    turn_request.py  a turn request as the planner reads it, and the ids made from it
    scope.py         the files a turn may read, and the search over them
    plan.py          a turn request -> its timeline of events, computed once
    timeline.py      events -> the turn as of a moment; the SSE stream
    records.py       threads and turns in the state backend
    users.py         the user's own settings; feedbacks.py: the feedbacks on v2 completions
"""
