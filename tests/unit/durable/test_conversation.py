"""The conversation kept in state: a turn runs on the history earlier turns left (a cut-off
turn's dangling tool calls closed), runs again for steers that came as it ended, and a follow-up
turn's record goes on from the summary (seq, usage, turns, pushes)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from pydantic_ai import Agent
from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart, ToolCallPart, UserPromptPart
from pydantic_ai.models.function import FunctionModel

from dals.durable import conversation, task_record
from dals.durable.task_record import TaskRecord
from tests.unit.durable.test_task_record_push import FakeContext, Sent

FIXED = datetime(2026, 1, 1, tzinfo=UTC)


class StateContext(FakeContext):
    async def get(self, key):
        return self.state.get(key)


def echo_agent(seen: list) -> Agent:
    async def answer(messages, info):
        seen.append(messages)
        return ModelResponse(parts=[TextPart(f"answer {len(seen)}")])

    return Agent(FunctionModel(answer))


async def test_history_round_trips_and_a_cut_off_turn_is_closed():
    ctx = StateContext()
    assert await conversation.load(ctx) == []
    cut = [
        ModelRequest(parts=[UserPromptPart("first")]),
        ModelResponse(parts=[ToolCallPart("run_command", {"command": "sleep 9"}, tool_call_id="c1")]),
    ]
    conversation.save(ctx, cut)
    json.dumps(ctx.state[conversation.HISTORY])  # plain JSON in state
    history = await conversation.load(ctx)
    seen: list = []
    result = await conversation.Turn(echo_agent(seen), history, take_steers=_none).run("second")
    assert result.output == "answer 1"
    sent = seen[0]
    assert sent[0].parts[0].content == "first" and isinstance(sent[1].parts[0], ToolCallPart)
    prompts = [p.content for p in sent[-1].parts if isinstance(p, UserPromptPart)]
    assert prompts == ["second"]  # after the synthesised result of the cut-off call


async def _none():
    return []


async def test_steers_that_come_as_the_run_ends_get_a_run_of_their_own():
    batches = [["also this"], []]

    async def take():
        return batches.pop(0)

    seen: list = []
    turn = conversation.Turn(echo_agent(seen), [], take_steers=take)
    result = await turn.run("hello")
    assert result.output == "answer 2" and batches == []
    assert [m.parts[0].content for m in turn.messages() if isinstance(m, ModelRequest)][-1] == "also this"
    assert len(turn.messages()) == 4


def test_a_follow_up_record_goes_on_from_the_summary(monkeypatch):
    sent = Sent()
    monkeypatch.setattr(task_record, "hint_sender", lambda: sent)
    ctx = FakeContext()
    spec = {
        "taskId": "t1",
        "title": "T",
        "prompt": "p",
        "workspace": "/w",
        "model": "offline",
        "createdAt": "2026-11-27T00:00:00.000Z",
        "wakeup": "hint",
    }
    first = TaskRecord(ctx, spec)
    first.emit("status", "Task started", "2026-11-27T00:00:01.000Z", status="running")
    first.finish("succeeded", "2026-11-27T00:00:02.000Z", result="done")
    summary = json.loads(json.dumps(ctx.state["summary"]))
    again = TaskRecord.resume(ctx, summary)
    assert again._pushed_rev == summary["rev"] == 2  # its first push starts where followers are
    again.turn_started("more please", "2026-11-27T00:01:00.000Z")
    s = ctx.state["summary"]
    assert s["turns"] == 2 and s["lastSeq"] == 3 and s["status"] == "running" and s["result"] is None
    event = ctx.state[task_record.event_key(3)]
    assert event["kind"] == "message" and event["detail"] == {"role": "user", "text": "more please", "turn": 2}


async def test_a_replayed_turn_writes_the_same_history():
    """Restate compares a replayed state write with the journal's: what pydantic-ai makes up at
    run time (run ids, request times) is not kept."""

    def history(run_id: str):
        return [
            ModelRequest(parts=[UserPromptPart("hi")], run_id=run_id),
            ModelResponse(parts=[TextPart("yo")], run_id=run_id, timestamp=FIXED),
        ]

    first, again = StateContext(), StateContext()
    conversation.save(first, history("run-1"))
    conversation.save(again, history("run-2"))  # built later: other request timestamps too
    assert first.state == again.state
    loaded = await conversation.load(first)
    assert loaded[1].timestamp == FIXED and loaded[0].parts[0].content == "hi"
