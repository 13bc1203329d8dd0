"""Conversations survive crashes: a follow-up after kill -9 of `dals lsp` and of the worker sends
the whole history with its new request and no earlier request again; a steer stored while a slow
command runs reaches the model exactly once across a kill -9 of the worker. The model is the
OpenAI-compatible double, which records every request's messages."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import uuid

import pytest
from pygls.exceptions import JsonRpcException

from tests.support.lsp_client import DalsClient
from tests.support.openai_double import conversation_key
from tests.support.runtime import wait_for

REQUEST_FAILED = -32803


def plan(title: str, *steps: tuple[str, dict]) -> str:
    return "\n".join([title] + [f"/{tool} {json.dumps(args)}" for tool, args in steps])


def turn_ended(since: int):
    return lambda evs: any(
        e["kind"] == "status" and e["status"] in ("succeeded", "failed", "cancelled") and e["seq"] > since for e in evs
    )


def user_texts(request: dict) -> list[str]:
    return [
        m["content"] if isinstance(m["content"], str) else json.dumps(m["content"])
        for m in request["messages"]
        if m.get("role") == "user"
    ]


async def test_follow_up_after_lsp_and_worker_kill9(chaos_runtime, chaos_double, tmp_path):
    tag = uuid.uuid4().hex[:8]
    first = plan(
        f"Start {tag}",
        ("write_file", {"path": "a.txt", "content": "one\n"}),
        ("run_command", {"command": "echo first >> effects.log"}),
    )
    (tmp_path / "AGENTS.md").write_text(f"Rules of {tag}: be brief.\n")
    client = DalsClient(chaos_runtime.env, tmp_path)
    await client.start()
    task_id = (await client.command("dals.startTask", {"prompt": first}))["taskId"]
    await client.wait_finished(task_id)
    (tmp_path / "AGENTS.md").write_text(f"New rules of {tag}.\n")  # read again when the next turn starts
    client.kill()
    await client.stop()
    old = chaos_runtime.kill("worker")
    chaos_runtime.healthy_again("worker", old)
    key = conversation_key(first)
    assert chaos_double.count(key=key) == 3

    again = DalsClient(chaos_runtime.env, tmp_path)
    await again.start()
    try:
        before = await again.command("dals.showTask", {"taskId": task_id})
        assert before["turns"] == 1
        second = plan("Now more", ("edit_file", {"path": "a.txt", "old": "one", "new": "two"}))
        got = await again.command("dals.followUp", {"taskId": task_id, "prompt": second})
        assert got["taskId"] == task_id and got["turn"] == 2
        events = await again.wait_event(task_id, turn_ended(before["lastSeq"]), 90)
        shown = await again.command("dals.showTask", {"taskId": task_id})
    finally:
        await again.stop()
    assert shown["status"] == "succeeded", shown.get("error")
    assert (tmp_path / "a.txt").read_text() == "two\n"
    assert (tmp_path / "effects.log").read_text() == "first\n"  # turn 1's command did not run again
    # the same task: seq goes on without a gap, usage adds up, turns counts
    seqs = [e["seq"] for e in shown["events"]]
    assert seqs == list(range(1, len(seqs) + 1))
    assert [e["seq"] for e in events] == seqs[before["lastSeq"] :]  # the client got the new turn's events
    assert shown["turns"] == 2 and shown["usage"]["requests"] == 5
    users = [e["detail"]["text"] for e in shown["events"] if e["kind"] == "message" and e["detail"]["role"] == "user"]
    assert users == [first, second]
    # no earlier request sent again; the new ones carry the whole conversation
    assert not chaos_double.repeated(), chaos_double.repeated()
    assert chaos_double.count(key=key) == 5
    turn2 = [r for r in chaos_double.requests if r["key"] == key and r["turn"] == 1]
    assert [r["step"] for r in turn2] == [0, 1]
    history = turn2[0]["messages"]
    roles = [m["role"] for m in history if m["role"] != "system"]
    assert roles == ["user", "assistant", "tool", "assistant", "tool", "assistant", "user"], roles
    assert user_texts(turn2[0]) == [first, second]
    assert any("echo first" in json.dumps(m.get("tool_calls")) for m in history if m["role"] == "assistant")
    # the project's AGENTS.md is part of what the model sees, as it was when each turn started
    turn1 = [r for r in chaos_double.requests if r["key"] == key and r["turn"] == 0]
    system = lambda r: " ".join(m["content"] for m in r["messages"] if m["role"] == "system")  # noqa: E731
    assert all(f"Rules of {tag}: be brief." in system(r) for r in turn1)
    assert all(f"New rules of {tag}." in system(r) and "be brief" not in system(r) for r in turn2)


async def test_steer_reaches_the_model_once_across_worker_kill9(chaos_runtime, chaos_double, tmp_path):
    tag = uuid.uuid4().hex[:8]
    prompt = plan(
        f"Steered {tag}",
        ("run_command", {"command": "touch slow.started && sleep 3 && echo slow >> effects.log"}),
        ("write_file", {"path": "b.txt", "content": "b\n"}),
    )
    note = f"Also keep it short ({tag})"
    client = DalsClient(chaos_runtime.env, tmp_path)
    await client.start()
    try:
        task_id = (await client.command("dals.startTask", {"prompt": prompt}))["taskId"]
        await asyncio.to_thread(wait_for, lambda: (tmp_path / "slow.started").exists(), 60, "the slow step")
        with pytest.raises(JsonRpcException) as refused:
            await client.command("dals.followUp", {"taskId": task_id, "prompt": "more"})
        assert refused.value.code == REQUEST_FAILED and "dals.steer" in str(refused.value)
        assert await client.command("dals.steer", {"taskId": task_id, "message": note}) == {
            "taskId": task_id,
            "queued": True,
        }
        old = chaos_runtime.kill("worker")  # before the next model request, which delivers it
        await client.wait_finished(task_id, timeout=120)
        shown = await client.command("dals.showTask", {"taskId": task_id})
        with pytest.raises(JsonRpcException) as late:
            await client.command("dals.steer", {"taskId": task_id, "message": "too late"})
        assert late.value.code == REQUEST_FAILED and "dals.followUp" in str(late.value)
        transcript = await client.command("dals.transcript", {"taskId": task_id})
    finally:
        await client.stop()
    assert chaos_runtime.status()["worker"]["pid"] != old
    assert shown["status"] == "succeeded", shown.get("error")
    steers = [e for e in shown["events"] if e["kind"] == "message" and e["detail"].get("steer")]
    assert len(steers) == 1 and steers[0]["detail"]["text"] == note
    key = conversation_key(prompt)
    requests = [r for r in chaos_double.requests if r["key"] == key and r["status"] == 200]
    assert not chaos_double.repeated(status=200)
    carrying = [user_texts(r).count(note) for r in requests]
    assert carrying == [0, 1, 1], carrying  # delivered with the request after the slow step, kept once after
    # the steer went in after the slow command's result
    after_slow = requests[1]["messages"]
    assert [m["role"] for m in after_slow if m["role"] != "system"][-2:] == ["tool", "user"]
    assert f"## You (steer)\n\n> {note}" in transcript["markdown"]


async def test_live_text_comes_before_its_event_and_a_kill_mid_stream_leaves_no_trace(
    chaos_runtime, chaos_double, tmp_path
):
    prompt = plan(f"Stream {uuid.uuid4().hex[:8]}", ("write_file", {"path": "s.txt", "content": "s\n"}))
    final_text = "Plan done: 1 step (write_file ×1)."
    client = DalsClient(chaos_runtime.env, tmp_path)
    await client.start()
    old = chaos_runtime.status()["worker"]["pid"]
    chaos_double.stream_gap = 0.3
    try:
        task_id = (await client.command("dals.startTask", {"prompt": prompt}))["taskId"]
        # the final answer streams word by word: kill the worker once its first words are out
        await client.wait_event(
            task_id, lambda _: any(d["text"].strip() == "Plan" for d in client.deltas.get(task_id, [])), 60
        )
        os.kill(old, signal.SIGKILL)
        await client.wait_finished(task_id, timeout=120)
        shown = await client.command("dals.showTask", {"taskId": task_id})
        transcript = (await client.command("dals.transcript", {"taskId": task_id}))["markdown"]
    finally:
        chaos_double.stream_gap = 0.0
        await client.stop()
    assert chaos_runtime.status()["worker"]["pid"] != old
    assert shown["status"] == "succeeded" and shown["result"] == final_text
    answer = [e for e in shown["events"] if e["kind"] == "model" and e["title"] == "Model: answer"]
    assert len(answer) == 1 and answer[0]["detail"]["text"] == final_text
    deltas = client.deltas[task_id]
    assert {d["seq"] for d in deltas} == {answer[0]["seq"]}  # the live text of the event it became
    # the re-run request streamed the whole text again, before its journaled event arrived
    rerun = "".join(d["text"] for d in deltas)
    assert rerun.endswith(final_text) and rerun != final_text  # cut off once, then whole
    order = [(kind, p["seq"]) for kind, p in client.arrivals if p["taskId"] == task_id]
    assert order.index(("event", answer[0]["seq"])) > max(i for i, (k, _) in enumerate(order) if k == "delta")
    # the transcript has the journaled text only, once
    assert transcript.count(final_text) == 1 and "Plan done: 1\n" not in transcript
