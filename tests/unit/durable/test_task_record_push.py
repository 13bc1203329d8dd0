"""TaskRecord's hints carry the write (a push): the summary as written, less the prompt, and every
event since the previous push, even when one flush sends several writes; none while replaying."""

from __future__ import annotations

import json

from dals.durable import task_record
from dals.durable.task_record import TaskRecord, event_key


class Vm:
    def __init__(self):
        self.replaying = False

    def is_replaying(self) -> bool:
        return self.replaying


class FakeContext:
    """restate-sdk's context as TaskRecord uses it: `set`, the VM's replay flag, the flushes."""

    def __init__(self):
        self.state: dict = {}
        self.vm = Vm()

    def set(self, key, value):
        self.state[key] = json.loads(json.dumps(value))  # a copy, as the SDK serialises it

    async def take_and_send_output(self):
        pass

    async def leave(self):
        pass


class Sent:
    def __init__(self):
        self.hints: list[tuple[str, int, dict | None]] = []

    def send(self, task_id, rev, push=None):
        self.hints.append((task_id, rev, json.loads(push()) if push else None))


def _record(monkeypatch) -> tuple[TaskRecord, FakeContext, Sent]:
    sent = Sent()
    monkeypatch.setattr(task_record, "hint_sender", lambda: sent)
    ctx = FakeContext()
    spec = {
        "taskId": "t1",
        "title": "T",
        "prompt": "a long prompt " * 100,
        "workspace": "/w",
        "model": "offline",
        "createdAt": "2026-11-27T00:00:00.000Z",
        "wakeup": "hint",
    }
    return TaskRecord(ctx, spec), ctx, sent


async def test_each_flush_pushes_the_writes_it_sent(monkeypatch):
    record, ctx, sent = _record(monkeypatch)
    record.emit("status", "Task started", "2026-11-27T00:00:01.000Z", status="running")
    assert sent.hints == []  # nothing before the SDK has sent the write
    await ctx.take_and_send_output()
    [(task_id, rev, push)] = sent.hints
    assert (task_id, rev, push["since"]) == ("t1", 1, 0)
    assert push["events"] == [ctx.state[event_key(1)]]
    assert push["summary"]["rev"] == 1 and push["summary"]["status"] == "running"
    assert "prompt" not in push["summary"]  # never changes; the follower has it from its first read
    assert {k: v for k, v in ctx.state["summary"].items() if k != "prompt"} == push["summary"]

    # two writes before one flush: one hint, whose push carries both events
    record.tool_step("tool", "Read a.py", "2026-11-27T00:00:02.000Z", {"path": "a.py"})
    record.model_step("2026-11-27T00:00:03.000Z", "Model", 3, 4, {})
    await ctx.take_and_send_output()
    assert len(sent.hints) == 2
    _, rev, push = sent.hints[-1]
    assert rev == 3 and push["since"] == 1
    assert [e["seq"] for e in push["events"]] == [2, 3]
    assert push["summary"]["usage"]["requests"] == 1 and push["summary"]["lastSeq"] == 3

    # a write with no event (an editor request) pushes the summary alone
    record.editor_request({"requestId": "r1", "kind": "read"})
    await ctx.leave()
    _, rev, push = sent.hints[-1]
    assert (rev, push["since"], push["events"]) == (4, 3, [])
    assert push["summary"]["editorRequest"] == {"requestId": "r1", "kind": "read"}


async def test_no_push_while_replaying_and_the_next_one_continues_the_replayed_writes(monkeypatch):
    record, ctx, sent = _record(monkeypatch)
    ctx.vm.replaying = True
    record.emit("status", "Task started", "2026-11-27T00:00:01.000Z", status="running")
    record.tool_step("tool", "Read a.py", "2026-11-27T00:00:02.000Z", {"path": "a.py"})
    await ctx.take_and_send_output()
    assert sent.hints == []  # followers have seen these (or read them from Restate)
    ctx.vm.replaying = False
    record.tool_step("tool", "Read b.py", "2026-11-27T00:00:03.000Z", {"path": "b.py"})
    await ctx.take_and_send_output()
    [(_, rev, push)] = sent.hints
    assert rev == 3 and push["since"] == 2 and [e["seq"] for e in push["events"]] == [3]
