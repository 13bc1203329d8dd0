"""Eager steps keep Guarantees 1 and 4 (durable/eager_steps.py), proven with SIGSTOP and kill -9.

The worker's handler goes on while Restate stores a step's result, but the next step must not
start, and no event may reach a client, before Restate has acknowledged it. So: the model's answer
for step 2 is held by the OpenAI-compatible double; the Restate server is stopped (SIGSTOP, by
pid); the answer is let go, so the worker gets it and can never have it acknowledged. For a while
neither step 2's command runs nor its event reaches the LSP client. Then the worker is killed
(kill -9) and Restate continued: the task finishes by itself, each command ran exactly once, only
the step in flight (the held model request) was sent again, and the events are contiguous.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time
import uuid

from tests.chaos.test_kill9 import assert_client_stream
from tests.support.lsp_client import DalsClient
from tests.support.openai_double import conversation_key
from tests.support.runtime import wait_for

HELD = 1  # the model request (0-based, as the double counts) whose answer waits for the test
WINDOW_S = 1.5  # how long nothing may happen while the answer is unacknowledged


def plan(tag: str) -> str:
    steps = [f"echo s{i} >> effects.log" for i in (1, 2, 3)]
    return "\n".join([f"Eager steps {tag}"] + [f"/run_command {json.dumps({'command': c})}" for c in steps])


def effects(ws) -> list[str]:
    try:
        return (ws / "effects.log").read_text().splitlines()
    except OSError:
        return []


async def test_no_step_and_no_event_before_restate_acknowledges(chaos_runtime, chaos_double, tmp_path):
    ws = tmp_path
    st = chaos_runtime.status()
    restate_pid, worker_pid = st["restate"]["pid"], st["worker"]["pid"]
    release = chaos_double.holds[HELD] = threading.Event()
    client = DalsClient(chaos_runtime.env, ws)
    await client.start()
    stopped = False
    try:
        prompt = plan(uuid.uuid4().hex[:8])
        key = conversation_key(prompt)
        task_id = (await client.command("dals.startTask", {"prompt": prompt}))["taskId"]
        assert await asyncio.to_thread(chaos_double.wait_for_step, HELD, 60), "the held model request never came"
        # step 1's command ran and its event reached the client before the held request was sent
        await client.wait_event(task_id, lambda evs: any(e["kind"] == "tool" for e in evs), 30)
        assert effects(ws) == ["s1"]
        seen = [e["seq"] for e in client.events[task_id]]

        os.kill(restate_pid, signal.SIGSTOP)
        stopped = True
        release.set()
        answered = lambda reqs: any(r["step"] == HELD and r["key"] == key and r["status"] == 200 for r in reqs)
        assert await asyncio.to_thread(chaos_double.wait_until, answered, 10)
        deadline = time.monotonic() + WINDOW_S
        while time.monotonic() < deadline:  # nothing may happen: watch for it the whole window
            assert effects(ws) == ["s1"], "a step started before Restate acknowledged the one before"
            assert [e["seq"] for e in client.events[task_id]] == seen, "an event got ahead of the journal"
            await asyncio.sleep(0.05)

        os.kill(worker_pid, signal.SIGKILL)
        os.kill(restate_pid, signal.SIGCONT)
        stopped = False
        await client.wait_finished(task_id, timeout=120)
        shown = await client.command("dals.showTask", {"taskId": task_id})
        assert shown["status"] == "succeeded", shown.get("error")
        assert effects(ws) == ["s1", "s2", "s3"], "each command exactly once"
        # only the request in flight (answered, never acknowledged) may have been sent again
        assert set(chaos_double.repeated()) <= {(key, HELD)}, chaos_double.repeated()
        assert chaos_double.count(key=key, step=HELD) <= 2
        assert chaos_double.count(key=key) in (4, 5)
        seqs = [e["seq"] for e in shown["events"]]
        assert seqs == list(range(1, len(seqs) + 1))
        assert [e["kind"] for e in shown["events"]].count("tool") == 3
        assert_client_stream(client, task_id)
        wait_for(lambda: chaos_runtime.status()["worker"]["pid"] not in (None, worker_pid), 60, "a new worker")
    finally:
        release.set()
        chaos_double.holds.pop(HELD, None)
        if stopped:
            os.kill(restate_pid, signal.SIGCONT)
        await client.stop()
