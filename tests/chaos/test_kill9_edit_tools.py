"""Exactly-once edits with the new edit tools, proven with kill -9 of the worker.

Every edit in the plan would change the file again if it ran twice (`x` → `xx` everywhere, then
appending to the last line), so the final content shows that each ran exactly once: the ones
before the kill are answered from the journal, the ones after it run once on the new worker.
"""

from __future__ import annotations

import asyncio
import json
import uuid

from tests.chaos.test_kill9 import assert_client_stream
from tests.support.lsp_client import DalsClient
from tests.support.openai_double import conversation_key
from tests.support.runtime import wait_for


def plan(tag: str) -> str:
    steps = [
        ("write_file", {"path": "a.txt", "content": "x = x\nend\n"}),
        ("edit_file", {"path": "a.txt", "old": "x", "new": "xx", "replace_all": True}),
        ("multi_edit", {"path": "a.txt", "edits": [{"old": "end", "new": "end."}, {"old": "xx =", "new": "xx :="}]}),
        ("run_command", {"command": "touch slow.started && sleep 3 && echo slow >> effects.log"}),
        (
            "multi_edit",
            {
                "path": "a.txt",
                "edits": [{"old": "x", "new": "xy", "replace_all": True}, {"old": "end.", "new": "end.."}],
            },
        ),
        ("read_file", {"path": "a.txt", "offset": 1, "limit": 1}),
    ]
    return "\n".join([f"Edit tools chaos {tag}"] + [f"/{tool} {json.dumps(args)}" for tool, args in steps])


async def test_worker_kill9_between_edits(chaos_runtime, chaos_double, tmp_path):
    client = DalsClient(chaos_runtime.env, tmp_path)
    await client.start()
    try:
        prompt = plan(uuid.uuid4().hex[:8])
        task_id = (await client.command("dals.startTask", {"prompt": prompt}))["taskId"]
        await asyncio.to_thread(wait_for, lambda: (tmp_path / "slow.started").exists(), 60, "the slow step")
        old = chaos_runtime.kill("worker")
        await client.wait_finished(task_id, timeout=120)
        shown = await client.command("dals.showTask", {"taskId": task_id})
        assert_client_stream(client, task_id)
    finally:
        await client.stop()
    assert chaos_runtime.status()["worker"]["pid"] not in (None, old)
    assert shown["status"] == "succeeded", shown.get("error") or shown.get("lastFailure")
    assert (tmp_path / "a.txt").read_text() == "xyxy := xyxy\nend..\n"
    assert not chaos_double.repeated(), chaos_double.repeated()
    assert chaos_double.count(key=conversation_key(shown["prompt"])) == 7
    edits = [e["title"] for e in shown["events"] if e["kind"] == "edit"]
    assert edits == ["write_file a.txt", "edit_file a.txt", "multi_edit a.txt", "multi_edit a.txt"]
    last = [e for e in shown["events"] if e["title"].startswith("read_file a.txt")][-1]
    assert last["detail"]["lines"] == 2
