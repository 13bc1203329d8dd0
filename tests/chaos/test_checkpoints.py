"""Checkpoints (Guarantee 8): undo, rewind and fork of a task through `dals lsp`, on a real
runtime whose model is the OpenAI-compatible double (which records every request). Undo restores
binary and 10 MB files byte for byte, leaves a file the user changed alone, removes what the task
created, does nothing the second time, and completes exactly once across kill -9 of the worker."""

from __future__ import annotations

import asyncio
import json
import os
import uuid

import pytest
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams

from tests.chaos.conftest import runtime_on
from tests.support.lsp_client import DalsClient
from tests.support.openai_double import conversation_key
from tests.support.runtime import wait_for

REQUEST_FAILED = -32803
DELAY_S = 0.6  # each revert step waits this long after its write (DALS_TEST_REVERT_DELAY_S)


@pytest.fixture(scope="module")
def rt(chaos_double):
    with runtime_on(chaos_double, DALS_TEST_REVERT_DELAY_S=str(DELAY_S)) as runtime:
        yield runtime


def plan(title: str, *steps: tuple[str, dict]) -> str:
    return "\n".join([title] + [f"/{tool} {json.dumps(args)}" for tool, args in steps])


def edits(shown: dict) -> list[dict]:
    return [e for e in shown["events"] if e["kind"] == "edit"]


async def run_task(client: DalsClient, prompt: str) -> dict:
    task_id = (await client.command("dals.startTask", {"prompt": prompt}))["taskId"]
    await client.wait_finished(task_id)
    shown = await client.command("dals.showTask", {"taskId": task_id})
    assert shown["status"] == "succeeded", shown.get("error")
    return shown


async def test_undo_restores_exactly_and_leaves_the_users_change(rt, tmp_path):
    binary = bytes(range(256)) * 16 + b"\x00tail"
    big = os.urandom(10 * 1024 * 1024)
    (tmp_path / "bin.dat").write_bytes(binary)
    (tmp_path / "big.bin").write_bytes(big)
    (tmp_path / "mine.txt").write_text("mine\n")
    (tmp_path / "kept.txt").write_text("alpha\nbeta\n")
    (tmp_path / "gone.txt").write_bytes(b"deleted by the task\r\n")
    prompt = plan(
        f"Undo {uuid.uuid4().hex[:8]}",
        ("write_file", {"path": "bin.dat", "content": "now text\n"}),
        ("write_file", {"path": "big.bin", "content": "small\n"}),
        ("write_file", {"path": "new/created.txt", "content": "created\n"}),
        ("edit_file", {"path": "mine.txt", "old": "mine", "new": "task's"}),
        ("edit_file", {"path": "kept.txt", "old": "alpha", "new": "ALPHA"}),
        ("edit_file", {"path": "kept.txt", "old": "beta", "new": "BETA"}),
        ("delete_file", {"path": "gone.txt"}),
    )
    client = DalsClient(rt.env, tmp_path)
    await client.start()
    try:
        shown = await run_task(client, prompt)
        assert all("before" in e["detail"] for e in edits(shown)), edits(shown)
        assert not (tmp_path / "gone.txt").exists()
        (tmp_path / "mine.txt").write_text("the user's own change\n")  # after the task
        preview = await client.command("dals.undoTask", {"taskId": shown["taskId"], "dryRun": True})
        assert preview["revert"] == ["gone.txt", "kept.txt", "mine.txt", "new/created.txt", "big.bin", "bin.dat"]
        assert (tmp_path / "big.bin").read_text() == "small\n"  # a preview changes nothing
        got = await client.command("dals.undoTask", {"taskId": shown["taskId"]})
        again = await client.command("dals.undoTask", {"taskId": shown["taskId"]})
        after = await client.command("dals.showTask", {"taskId": shown["taskId"]})
    finally:
        await client.stop()
    assert got["taskId"] == shown["taskId"]
    assert got["reverted"] == ["gone.txt", "kept.txt", "new/created.txt", "big.bin", "bin.dat"]  # newest first
    assert got["skipped"] == [
        {"path": "mine.txt", "reason": "changed since the task changed it (by you or another task); left as it is"}
    ]
    assert (tmp_path / "bin.dat").read_bytes() == binary
    assert (tmp_path / "big.bin").read_bytes() == big
    assert not (tmp_path / "new" / "created.txt").exists()
    assert (tmp_path / "gone.txt").read_bytes() == b"deleted by the task\r\n"
    assert (tmp_path / "kept.txt").read_text() == "alpha\nbeta\n"
    assert (tmp_path / "mine.txt").read_text() == "the user's own change\n"
    assert again["reverted"] == [] and [s["path"] for s in again["skipped"]] == ["mine.txt"]
    undos = [e for e in after["events"] if e["kind"] == "status" and (e.get("detail") or {}).get("undo")]
    assert len(undos) == 2 and undos[0]["detail"]["reverted"] == got["reverted"]
    assert undos[0]["title"] == "Undone: 5 file(s) reverted, 1 skipped"


async def test_undo_completes_once_across_worker_kill9(rt, tmp_path):
    names = [f"f{i}.txt" for i in range(5)]
    for n in names:
        (tmp_path / n).write_text(f"{n} before\n")
    prompt = plan(
        f"Kill undo {uuid.uuid4().hex[:8]}", *[("write_file", {"path": n, "content": f"{n} after\n"}) for n in names]
    )
    client = DalsClient(rt.env, tmp_path)
    await client.start()
    try:
        shown = await run_task(client, prompt)
        undo = asyncio.create_task(client.command("dals.undoTask", {"taskId": shown["taskId"]}))
        # newest first: f4 is reverted first; kill while its step (or the next) waits after the write
        await asyncio.to_thread(
            wait_for, lambda: (tmp_path / "f4.txt").read_text() == "f4.txt before\n", 60, "the first revert"
        )
        inode = (tmp_path / "f4.txt").stat().st_ino
        old = rt.kill("worker")
        got = await asyncio.wait_for(undo, 180)
        after = await client.command("dals.showTask", {"taskId": shown["taskId"]})
    finally:
        await client.stop()
    assert rt.status()["worker"]["pid"] != old
    assert got["reverted"] == list(reversed(names)) and got["skipped"] == []
    assert all((tmp_path / n).read_text() == f"{n} before\n" for n in names)
    assert (tmp_path / "f4.txt").stat().st_ino == inode  # not written again after the kill
    undos = [e for e in after["events"] if e["kind"] == "status" and (e.get("detail") or {}).get("undo")]
    assert len(undos) == 1


async def test_fork_reuses_the_conversation_and_sends_no_earlier_request(rt, chaos_double, tmp_path):
    steps = [("write_file", {"path": f"s{i}.txt", "content": f"{i}\n"}) for i in range(1, 11)]
    prompt = plan(f"Ten steps {uuid.uuid4().hex[:8]}", *steps)
    key = conversation_key(prompt)
    client = DalsClient(rt.env, tmp_path)
    await client.start()
    try:
        shown = await run_task(client, prompt)
        assert chaos_double.count(key=key) == 11
        at = edits(shown)[3]["seq"]  # step 4
        files_before = sorted(p.name for p in tmp_path.iterdir())
        fork_prompt = "Forked: summarise what you did."
        got = await client.command("dals.forkTask", {"taskId": shown["taskId"], "atSeq": at, "prompt": fork_prompt})
        await client.wait_finished(got["taskId"], timeout=120)
        forked = await client.command("dals.showTask", {"taskId": got["taskId"]})
        old = await client.command("dals.showTask", {"taskId": shown["taskId"]})
        before_bare = len([r for r in chaos_double.requests if r["key"] == key])
        bare = await client.command("dals.forkTask", {"taskId": shown["taskId"], "atSeq": at})  # no prompt
        await client.wait_finished(bare["taskId"], timeout=60)
        only = await client.command("dals.showTask", {"taskId": bare["taskId"]})
        sent = len([r for r in chaos_double.requests if r["key"] == key])
        # ... and a follow-up to it runs (the fork's `run` ended: the object is free)
        await client.command("dals.followUp", {"taskId": bare["taskId"], "prompt": "Go on."})
        await client.wait_event(
            bare["taskId"],
            lambda evs: any(
                e["kind"] == "status" and e["status"] == "succeeded" and e["seq"] > only["lastSeq"] for e in evs
            ),
            60,
        )
        followed = await client.command("dals.showTask", {"taskId": bare["taskId"]})
    finally:
        await client.stop()
    assert got["taskId"] != shown["taskId"]
    assert forked["forkedFrom"] == {"taskId": shown["taskId"], "atSeq": at}
    assert forked["status"] == "succeeded", forked.get("error")
    assert old["events"] == shown["events"]  # the old task unchanged
    new = [r for r in chaos_double.requests if r["key"] == key][11:before_bare]
    assert new, "the fork sent no request"
    # its first request carries steps 1-4 (4 assistant messages) and the new prompt; none re-sent
    assert new[0]["position"] == 4
    assert fork_prompt in json.dumps(new[0]["messages"][-1])
    assert all(r["position"] >= 4 for r in new)
    assert sorted(p.name for p in tmp_path.iterdir()) == files_before  # the fork touches no file itself
    # without a prompt: only the conversation, no request, ready for a follow-up
    assert only["status"] == "succeeded" and only["usage"]["requests"] == 0 and only["turns"] == 1
    assert sent == before_bare
    assert followed["status"] == "succeeded" and followed["turns"] == 2 and followed["usage"]["requests"] >= 1


async def test_rewind_then_follow_up(rt, chaos_double, tmp_path):
    steps = [("write_file", {"path": f"r{i}.txt", "content": f"{i}\n"}) for i in range(1, 6)] + [
        ("run_command", {"command": "echo ran >> cmd.log"})
    ]
    prompt = plan(f"Six steps {uuid.uuid4().hex[:8]}", *steps)
    key = conversation_key(prompt)
    client = DalsClient(rt.env, tmp_path)
    await client.start()
    try:
        shown = await run_task(client, prompt)
        to = edits(shown)[2]["seq"]  # after step 3
        preview = await client.command("dals.rewindTask", {"taskId": shown["taskId"], "toSeq": to, "dryRun": True})
        assert preview["revert"] == ["r5.txt", "r4.txt"] and preview["commands"] == ["echo ran >> cmd.log"]
        got = await client.command("dals.rewindTask", {"taskId": shown["taskId"], "toSeq": to})
        assert sorted(p.name for p in tmp_path.iterdir()) == ["cmd.log", "r1.txt", "r2.txt", "r3.txt"]
        sent = len([r for r in chaos_double.requests if r["key"] == key])
        follow = "Go on."
        await client.command("dals.followUp", {"taskId": shown["taskId"], "prompt": follow})
        await client.wait_event(
            shown["taskId"],
            lambda evs: any(
                e["kind"] == "status"
                and e["status"] == "succeeded"
                and e["seq"] > to + 1
                and "Rewound" not in e["title"]
                and e["seq"] > shown["lastSeq"] + 1
                for e in evs
            ),
            120,
        )
        after = await client.command("dals.showTask", {"taskId": shown["taskId"]})
    finally:
        await client.stop()
    assert got["reverted"] == ["r5.txt", "r4.txt"] and got["skipped"] == []
    assert got["commands"] == ["echo ran >> cmd.log"]
    rewound = [e for e in after["events"] if (e.get("detail") or {}).get("rewind")]
    assert len(rewound) == 1 and rewound[0]["detail"]["commands"] == ["echo ran >> cmd.log"]
    assert after["status"] == "succeeded" and after["turns"] == 2
    turn2 = [r for r in chaos_double.requests if r["key"] == key][sent:]
    # the follow-up's requests carry steps 1-3 only: what came after the rewind point is gone
    assert turn2 and turn2[0]["position"] == 3
    assert follow in json.dumps(turn2[0]["messages"][-1])
    calls = [json.dumps(m.get("tool_calls")) for m in turn2[0]["messages"] if m["role"] == "assistant"]
    assert len(calls) == 3 and not any("r4.txt" in c for c in calls)


async def test_refusals_are_clear(rt, chaos_double, tmp_path):
    chaos_double.holds[0] = hold = __import__("threading").Event()
    client = DalsClient(rt.env, tmp_path)
    await client.start()
    try:
        with pytest.raises(JsonRpcException) as unknown:
            await client.command("dals.undoTask", {"taskId": "no-such-task"})
        assert "unknown task" in str(unknown.value)
        prompt = plan(f"Held {uuid.uuid4().hex[:8]}", ("write_file", {"path": "h.txt", "content": "h\n"}))
        task_id = (await client.command("dals.startTask", {"prompt": prompt}))["taskId"]
        await asyncio.to_thread(
            wait_for, lambda: chaos_double.count(key=conversation_key(prompt)) >= 1, 60, "the held request"
        )
        for name, args in (("dals.undoTask", {}), ("dals.rewindTask", {"toSeq": 1}), ("dals.forkTask", {"atSeq": 1})):
            with pytest.raises(JsonRpcException) as running:
                await client.command(name, {"taskId": task_id, **args})
            assert running.value.code == REQUEST_FAILED and "while it runs" in str(running.value), name
        hold.set()
        await client.wait_finished(task_id)
        for name, args, field in (
            ("dals.rewindTask", {"toSeq": 999}, "toSeq"),
            ("dals.forkTask", {"atSeq": 999}, "atSeq"),
        ):
            with pytest.raises(JsonRpcInvalidParams) as bad:
                await client.command(name, {"taskId": task_id, **args})
            assert "has no event 999" in str(bad.value) and field in str(bad.value)
        cli = await asyncio.to_thread(rt.dals, "undo", "--dry-run", task_id)
        assert "would revert (each only if unchanged since the task): h.txt" in cli.stdout
        missing = await asyncio.to_thread(rt.dals, "undo", "no-such-task", check=False)
        assert missing.returncode == 2 and "unknown task 'no-such-task'" in missing.stderr
    finally:
        hold.set()
        chaos_double.holds.pop(0, None)
        await client.stop()
