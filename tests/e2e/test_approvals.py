"""Durable approvals: review mode and the command policy. The wait survives a restart of
`dals lsp` and a kill -9 of the worker; approve applies once, reject reaches the model."""

from __future__ import annotations

import asyncio
import json

import pytest
from pygls.exceptions import JsonRpcException

from tests.support.lsp_client import DalsClient
from tests.support.openai_double import conversation_key
from tests.support.runtime import without_replays

ALLOW_PYTEST_ONLY = {"dals": {"commands": {"allow": ["pytest"]}}}


async def wait_pending(client: DalsClient, task_id: str, other_than: str, timeout: float = 60) -> dict:
    """The task waits for a request other than `other_than` (an answer has been taken in)."""

    async def loop():
        while True:
            shown = await client.command("dals.showTask", {"taskId": task_id})
            pending = shown.get("pending")
            if pending and pending["requestId"] != other_than:
                return shown
            await asyncio.sleep(0.05)

    return await asyncio.wait_for(loop(), timeout)


def plan(*steps: tuple[str, dict]) -> str:
    return "\n".join(["Approvals"] + [f"/{tool} {json.dumps(args)}" for tool, args in steps])


async def wait_status(client: DalsClient, task_id: str, wanted: str, timeout: float = 60) -> dict:
    async def loop():
        while True:
            shown = await client.command("dals.showTask", {"taskId": task_id})
            if shown["status"] == wanted:
                return shown
            await asyncio.sleep(0.05)

    return await asyncio.wait_for(loop(), timeout)


async def test_review_edit_survives_restarts_then_applies_once(runtime, model_double, tmp_path):
    (tmp_path / "app.py").write_text("print('hello')\n")
    prompt = plan(
        ("read_file", {"path": "app.py"}),
        ("edit_file", {"path": "app.py", "old": "hello", "new": "HELLO"}),
        ("run_command", {"command": "echo ran > ran.txt"}),
    )
    client = DalsClient(runtime.env, tmp_path)
    await client.start(ALLOW_PYTEST_ONLY)
    started = await client.command(
        "dals.startTask", {"prompt": prompt, "mode": "review", "model": "openai-chat:double"}
    )
    task_id = started["taskId"]
    events = await client.wait_event(task_id, lambda evs: any(e["kind"] == "approval" for e in evs))
    ask = [e for e in events if e["kind"] == "approval"][0]
    assert ask["status"] == "waiting" and ask["detail"]["action"] == "edit"
    assert "-print('hello')" in ask["detail"]["diff"] and "+print('HELLO')" in ask["detail"]["diff"]
    assert ask["detail"]["proposed"] == "print('HELLO')\n"  # the whole text to show: no client applies the diff
    # each event carries the task's summary, the one panels show: here, waiting for this request
    assert ask["summary"]["status"] == "waiting" and ask["summary"]["lastSeq"] >= ask["seq"]
    assert ask["summary"]["pending"]["requestId"] == ask["detail"]["requestId"]
    assert all(e["summary"]["taskId"] == task_id and e["summary"]["lastSeq"] >= e["seq"] for e in events)
    assert (tmp_path / "app.py").read_text() == "print('hello')\n"  # nothing applied before the answer

    # the editor goes away and comes back: the wait is durable and shown again
    client.kill()
    await client.stop()
    old_worker = runtime.kill("worker")
    runtime.healthy_again("worker", old_worker)
    again = DalsClient(runtime.env, tmp_path)
    await again.start(ALLOW_PYTEST_ONLY)
    try:
        shown = await wait_status(again, task_id, "waiting")
        pending = shown["pending"]
        assert pending["requestId"] == ask["detail"]["requestId"] and pending["path"] == "app.py"
        assert pending["proposed"] == "print('HELLO')\n"
        with pytest.raises(JsonRpcException) as err:
            await again.command("dals.answer", {"taskId": task_id, "requestId": "sign_nope", "decision": "approve"})
        assert "no pending request" in str(err.value)

        assert await again.command(
            "dals.answer", {"taskId": task_id, "requestId": pending["requestId"], "decision": "approve"}
        ) == {"ok": True}
        # the command is outside commands.allow: it waits too (auto or review alike)
        shown = await wait_pending(again, task_id, pending["requestId"])
        assert shown["status"] == "waiting"
        assert shown["pending"]["action"] == "command" and shown["pending"]["command"] == "echo ran > ran.txt"
        assert (tmp_path / "app.py").read_text() == "print('HELLO')\n"
        with pytest.raises(JsonRpcException):  # answering the old request again is refused
            await again.command(
                "dals.answer", {"taskId": task_id, "requestId": pending["requestId"], "decision": "approve"}
            )
        await again.command(
            "dals.answer",
            {"taskId": task_id, "requestId": shown["pending"]["requestId"], "decision": "reject", "comment": "not now"},
        )
        done = await wait_status(again, task_id, "succeeded")
        last = (await again.wait_finished(task_id))[-1]
    finally:
        await again.stop()
    assert not (tmp_path / "ran.txt").exists()
    assert (tmp_path / "app.py").read_text() == "print('HELLO')\n"
    edits = [e for e in done["events"] if e["kind"] == "edit"]
    assert len(edits) == 1 and done["pending"] is None
    # the last event's summary is the task's final one, counted by the server
    assert last["seq"] == done["lastSeq"] and last["summary"]["status"] == "succeeded"
    assert {k: last["summary"][k] for k in ("steps", "lastSeq")} == {k: done[k] for k in ("steps", "lastSeq")}
    assert without_replays(last["summary"]["usageLine"]) == without_replays(done["usageLine"])
    decisions = [e["detail"].get("decision") for e in done["events"] if e["kind"] == "approval"]
    assert decisions == [None, "approve", None, "reject"]
    # the model was told about the rejection, with the comment
    key = conversation_key(done["prompt"])
    last = [r for r in model_double.requests if r["key"] == key and r["step"] == 3][-1]
    tool_msgs = [m for m in last["messages"] if m.get("role") == "tool"]
    assert "rejected by the user: not now" in tool_msgs[-1]["content"]
    assert [e["seq"] for e in done["events"]] == list(range(1, len(done["events"]) + 1))


async def test_allowed_and_simple_commands_run_without_asking(runtime, tmp_path):
    prompt = plan(("run_command", {"command": "pytest --version"}))
    client = DalsClient(runtime.env, tmp_path)
    await client.start({"dals": {"commands": {"allow": ["pytest"]}, "model": "offline"}})
    try:
        task_id = (await client.command("dals.startTask", {"prompt": prompt}))["taskId"]
        events = await client.wait_finished(task_id)
        assert not [e for e in events if e["kind"] == "approval"]
        assert events[-1]["status"] == "succeeded"
    finally:
        await client.stop()


async def test_review_reject_leaves_file_untouched(runtime, tmp_path):
    (tmp_path / "a.txt").write_text("a\n")
    prompt = plan(("write_file", {"path": "a.txt", "content": "b\n"}))
    client = DalsClient(runtime.env, tmp_path)
    await client.start({"dals": {"approval": "review"}})
    try:
        task_id = (await client.command("dals.startTask", {"prompt": prompt}))["taskId"]
        events = await client.wait_event(task_id, lambda evs: any(e["status"] == "waiting" for e in evs))
        request_id = [e for e in events if e["status"] == "waiting"][0]["detail"]["requestId"]
        await client.command("dals.answer", {"taskId": task_id, "requestId": request_id, "decision": "reject"})
        events = await client.wait_finished(task_id)
        assert events[-1]["status"] == "succeeded"
        assert (tmp_path / "a.txt").read_text() == "a\n"
        assert not [e for e in events if e["kind"] == "edit"]
    finally:
        await client.stop()


async def test_unanswered_approval_times_out_as_rejection(runtime, tmp_path):
    """The optional time-out policy: no answer within the time-out counts as a rejection."""
    from dals.client.tasks import build_spec

    st = runtime.status()
    service = runtime.task_service(st)
    spec = build_spec(
        plan(("run_command", {"command": "echo never > never.txt"})),
        tmp_path,
        "offline",
        commands_allow=["pytest"],
        approvalTimeoutS=1.0,
    )
    task_id = await service.start(spec)

    async def done():
        while True:
            shown = await service.show(task_id)
            if shown["status"] == "succeeded":
                return shown
            await asyncio.sleep(0.1)

    shown = await asyncio.wait_for(done(), 60)
    await service.api.aclose()
    answers = [e for e in shown["events"] if e["kind"] == "approval" and e["status"] == "running"]
    assert answers and answers[0]["detail"]["decision"] == "reject"
    assert "approval timeout" in answers[0]["detail"]["comment"]
    assert not (tmp_path / "never.txt").exists()


async def test_a_task_posted_without_a_policy_cannot_run_commands(runtime, tmp_path):
    """Anyone on the machine can reach Restate's ingress; a spec without `commandsAllow` gets the
    default list, so `echo pwned` waits for an approval instead of running."""
    from dals.agent.deps import now_iso
    from dals.client.tasks import new_task_id
    from dals.durable.task_spec import TaskSpec

    st = runtime.status()
    service = runtime.task_service(st)
    task_id = new_task_id()
    await service.start(
        TaskSpec(
            taskId=task_id,
            prompt=plan(("run_command", {"command": "echo pwned > p.txt"})),
            title="raw",
            workspace=str(tmp_path),
            model="offline",
            createdAt=now_iso(),
        )
    )
    try:

        async def waiting():
            while True:
                shown = await service.show(task_id)
                if shown["status"] == "waiting":
                    return shown
                await asyncio.sleep(0.05)

        shown = await asyncio.wait_for(waiting(), 60)
        assert shown["pending"]["action"] == "command" and not (tmp_path / "p.txt").exists()
    finally:
        await service.cancel(task_id)
        await service.api.aclose()


async def test_steer_while_waiting_is_delivered_after_the_answer(runtime, model_double, tmp_path):
    prompt = plan(("run_command", {"command": "echo asked > asked.txt"}), ("read_file", {"path": "asked.txt"}))
    client = DalsClient(runtime.env, tmp_path)
    await client.start(ALLOW_PYTEST_ONLY)
    try:
        task_id = (await client.command("dals.startTask", {"prompt": prompt, "model": "openai-chat:double"}))["taskId"]
        shown = await wait_status(client, task_id, "waiting")
        note = f"steer while waiting {task_id}"
        assert (await client.command("dals.steer", {"taskId": task_id, "message": note}))["queued"] is True
        await asyncio.sleep(0.3)  # the task must not take it in while it waits
        assert not [e for e in client.events.get(task_id, []) if e["kind"] == "message" and e["detail"].get("steer")]
        await client.command(
            "dals.answer", {"taskId": task_id, "requestId": shown["pending"]["requestId"], "decision": "approve"}
        )
        await client.wait_finished(task_id)
        shown = await client.command("dals.showTask", {"taskId": task_id})
    finally:
        await client.stop()
    assert shown["status"] == "succeeded"
    kinds = [
        (e["kind"], (e.get("detail") or {}).get("decision"), (e.get("detail") or {}).get("steer"))
        for e in shown["events"]
    ]
    answered = kinds.index(("approval", "approve", None))
    steered = [i for i, k in enumerate(kinds) if k == ("message", None, True)]
    assert len(steered) == 1 and steered[0] > answered
    key = conversation_key(prompt)
    carrying = [sum(m.get("content") == note for m in r["messages"]) for r in model_double.requests if r["key"] == key]
    assert carrying == [0, 1, 1], carrying


async def test_review_of_a_file_open_in_the_editor_applies_through_its_buffer(runtime, tmp_path):
    """VS Code's "4-review-approve", without VS Code: a task on the open file reads its unsaved
    buffer, proposes the change against it, waits for the approval, then edits the buffer once."""
    from tests.e2e.test_editor_edits import BUFFER, DISK, Buffer

    f = tmp_path / "mod.py"
    f.write_text(DISK)
    client = DalsClient(runtime.env, tmp_path)
    await client.start({"dals": {"approval": "review", "model": "offline"}})
    try:
        buf = Buffer(client, f.as_uri(), BUFFER)
        task_id = (await client.command("dals.startTask", {"prompt": "Review me", "uri": f.as_uri()}))["taskId"]
        events = await client.wait_event(task_id, lambda evs: any(e["status"] == "waiting" for e in evs))
        ask = [e for e in events if e["status"] == "waiting"][0]
        assert ask["detail"]["path"] == "mod.py" and "+# DALS: Review me" in ask["detail"]["diff"]
        assert "unsaved user note" in ask["detail"]["diff"] and not buf.edits  # the buffer's text, nothing applied
        await client.command(
            "dals.answer", {"taskId": task_id, "requestId": ask["detail"]["requestId"], "decision": "approve"}
        )
        events = await client.wait_finished(task_id)
    finally:
        await client.stop()
    assert events[-1]["status"] == "succeeded", [e["title"] for e in events]
    assert len(buf.edits) == 1 and buf.text == "# DALS: Review me\n" + BUFFER
    assert f.read_text() == DISK  # the user saves
    assert [e["detail"].get("via") for e in events if e["kind"] == "edit"] == ["editor"]
