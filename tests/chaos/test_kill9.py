"""Guarantees 1, 2, 4 and 5, proven with kill -9: of the worker, of the Restate server, of `dals lsp`.

A 10-step task (model requests served by an OpenAI-compatible double that counts them over real
HTTP) writes files and runs commands whose side effects land in `effects.log`. One step is slow;
the kill happens while it runs. Afterwards: the task finished by itself, no model request was
sent twice, each completed step's side effect happened exactly once, events are contiguous.
"""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from tests.support.lsp_client import DalsClient
from tests.support.openai_double import conversation_key
from tests.support.runtime import wait_for

SLOW = 5  # the step (1-based) during which the kill happens


def plan(tag: str) -> str:
    steps = [
        {"write_file": {"path": "a.txt", "content": "one\n"}},
        {"run_command": {"command": "echo s2 >> effects.log"}},
        {"edit_file": {"path": "a.txt", "old": "one", "new": "two"}},
        {"run_command": {"command": "echo s4 >> effects.log"}},
        {"run_command": {"command": "touch slow.started && sleep 3 && echo s5 >> effects.log"}},
        {"run_command": {"command": "echo s6 >> effects.log"}},
        {"write_file": {"path": "b.txt", "content": "b\n"}},
        {"run_command": {"command": "echo s8 >> effects.log"}},
        {"read_file": {"path": "a.txt"}},
        {"run_command": {"command": "cat a.txt b.txt >> effects.log"}},
    ]
    lines = [f"Chaos run {tag}"] + [f"/{tool} {json.dumps(args)}" for s in steps for tool, args in s.items()]
    return "\n".join(lines)


def check_outcome(ws, double, shown, max_slow_runs: int = 1):
    assert shown["status"] == "succeeded", shown.get("error") or shown.get("lastFailure")
    effects = (ws / "effects.log").read_text().splitlines()
    for line in ("s2", "s4", "s6", "s8", "two", "b"):
        assert effects.count(line) == 1, (line, effects)
    assert 1 <= effects.count("s5") <= max_slow_runs, effects
    assert (ws / "a.txt").read_text() == "two\n"
    key = conversation_key(shown["prompt"])
    statuses = [e["title"] for e in shown["events"] if e["kind"] == "status"]
    assert not double.repeated(), f"model requests sent twice: {double.repeated()}; {statuses}"
    assert double.count(key=key) == 11, ("one request per model step, none sent twice", statuses)
    seqs = [e["seq"] for e in shown["events"]]
    assert seqs == list(range(1, len(seqs) + 1))
    kinds = [e["kind"] for e in shown["events"]]
    assert kinds.count("model") == 11 and kinds.count("tool") + kinds.count("edit") == 10
    assert shown["usage"]["requests"] == 11


def assert_client_stream(client: DalsClient, task_id: str):
    seqs = [e["seq"] for e in client.events.get(task_id, [])]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))) if seqs else True, seqs
    assert len(seqs) == len(set(seqs)), f"duplicate events: {seqs}"


async def start(client: DalsClient, tag: str) -> str:
    started = await client.command("dals.startTask", {"prompt": plan(tag)})
    return started["taskId"]


@pytest.fixture
def ws(tmp_path):
    return tmp_path


async def _run_with_kill(chaos_runtime, chaos_double, ws, kill):
    client = DalsClient(chaos_runtime.env, ws)
    await client.start()
    try:
        task_id = await start(client, uuid.uuid4().hex[:8])
        await asyncio.to_thread(wait_for, lambda: (ws / "slow.started").exists(), 60, "the slow step to start")
        await kill(client)
        events = await client.wait_finished(task_id, timeout=120)
        shown = await client.command("dals.showTask", {"taskId": task_id})
        assert_client_stream(client, task_id)
        return client, task_id, events, shown
    finally:
        await client.stop()


async def test_worker_kill9_mid_step(chaos_runtime, chaos_double, ws):
    old = {}

    async def kill(client):
        old["pid"] = chaos_runtime.kill("worker")

    _, task_id, events, shown = await _run_with_kill(chaos_runtime, chaos_double, ws, kill)
    new = chaos_runtime.status()["worker"]["pid"]
    assert new and new != old["pid"]
    # the in-flight command died with its worker: s5 was written by the re-run only
    check_outcome(ws, chaos_double, shown, max_slow_runs=1)

    # Replays are counted beside the journal (TaskLedger, one-way): wait for the count to land.
    async def ledger():
        while True:
            got = await _client_show(chaos_runtime, task_id)
            if got["usage"]["replayedRequests"] >= SLOW:
                return got
            await asyncio.sleep(0.1)

    got = await asyncio.wait_for(ledger(), 30)
    # and the tokens those replays did not cost again: the journaled responses' own usage
    replayed = got["usage"]["replayedRequests"]
    models = [e for e in got["events"] if e["kind"] == "model"]
    assert got["usage"]["replayedInputTokens"] == sum(e["detail"]["inputTokens"] for e in models[:replayed]) > 0
    assert got["usage"]["replayedOutputTokens"] == sum(e["detail"]["outputTokens"] for e in models[:replayed])


async def test_restate_server_kill9_mid_step(chaos_runtime, chaos_double, ws):
    old = {}

    async def kill(client):
        old["pid"] = chaos_runtime.kill("restate")

    _, task_id, events, shown = await _run_with_kill(chaos_runtime, chaos_double, ws, kill)
    st = chaos_runtime.status()
    assert st["restate"]["pid"] != old["pid"] and st["restate"]["healthy"]
    # Only the step in flight at the crash may run again.
    check_outcome(ws, chaos_double, shown, max_slow_runs=2)


async def test_lsp_kill9_task_goes_on(chaos_runtime, chaos_double, ws):
    client = DalsClient(chaos_runtime.env, ws)
    await client.start()
    task_id = await start(client, uuid.uuid4().hex[:8])
    await asyncio.to_thread(wait_for, lambda: (ws / "slow.started").exists(), 60, "the slow step to start")
    seen_before = [e["seq"] for e in client.events.get(task_id, [])]
    client.kill()
    await client.stop()
    # The task finishes with no editor attached at all.
    await asyncio.to_thread(wait_for, lambda: "s8" in _read(ws / "effects.log"), 60, "the task to go on")
    again = DalsClient(chaos_runtime.env, ws)
    await again.start()
    try:

        async def finished():
            while True:
                shown = await again.command("dals.showTask", {"taskId": task_id})
                if shown["status"] in ("succeeded", "failed", "cancelled"):
                    return shown
                await asyncio.sleep(0.1)

        shown = await asyncio.wait_for(finished(), 60)
        check_outcome(ws, chaos_double, shown, max_slow_runs=1)
        assert seen_before == list(range(1, len(seen_before) + 1))
        assert [e["seq"] for e in shown["events"]][: len(seen_before)] == seen_before
    finally:
        await again.stop()


async def _client_show(runtime, task_id):

    st = runtime.status()
    service = runtime.task_service(st)
    try:
        return await service.show(task_id)
    finally:
        await service.api.aclose()


def _read(path):
    try:
        return path.read_text()
    except OSError:
        return ""
