"""No lost user work: a user's change to a file a running task has read is seen by the watcher,
logged as a task event, and a stale edit is refused; two tasks on one file never lose a write."""

from __future__ import annotations

import asyncio
import json

from dals.local.endpoints import sync_client
from tests.support.lsp_client import DalsClient
from tests.support.runtime import wait_for


def _notes(ingress: str, task_id: str) -> list:
    with sync_client(ingress, timeout=10) as http:
        return http.post(
            f"/TaskNotes/{task_id}/since", content=b"0", headers={"content-type": "application/json"}
        ).json()["notes"]


def plan(title: str, *steps: tuple[str, dict]) -> str:
    return "\n".join([title] + [f"/{tool} {json.dumps(args)}" for tool, args in steps])


async def test_user_edit_under_a_running_task_is_detected_and_stale_edit_refused(runtime, tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("alpha\nbeta\n")
    prompt = plan(
        "Watch me",
        ("read_file", {"path": "notes.txt"}),
        ("run_command", {"command": "touch ready && while [ ! -f go ]; do sleep 0.05; done"}),
        ("edit_file", {"path": "notes.txt", "old": "beta", "new": "BETA"}),
        ("read_file", {"path": "notes.txt"}),
        ("edit_file", {"path": "notes.txt", "old": "beta", "new": "BETA"}),
    )
    client = DalsClient(runtime.env, tmp_path)
    await client.start()
    try:
        task_id = (await client.command("dals.startTask", {"prompt": prompt}))["taskId"]
        await asyncio.to_thread(wait_for, lambda: (tmp_path / "ready").exists(), 60, "the command to start")
        f.write_text("alpha (edited by the user)\nbeta\n")  # the user's work, while the task runs
        # The watcher reports the change to the task (TaskNotes); then let the task go on.
        ingress = runtime.status()["restate"]["ingress"]
        await asyncio.to_thread(wait_for, lambda: _notes(ingress, task_id), 60, "the change to be reported")
        (tmp_path / "go").touch()
        events = await client.wait_finished(task_id)
    finally:
        await client.stop()
    logs = [e for e in events if e["kind"] == "log"]
    assert logs and logs[0]["detail"]["path"] == "notes.txt" and "outside the task" in logs[0]["title"]
    failed = [e for e in events if e["kind"] == "edit" and e["title"].endswith("failed")]
    assert len(failed) == 1 and "changed since read" in failed[0]["detail"]["error"]
    assert f.read_text() == "alpha (edited by the user)\nBETA\n"  # both the user's and the agent's work
    assert events[-1]["status"] == "succeeded"


async def test_two_tasks_on_one_file_never_lose_a_write(runtime, tmp_path):
    f = tmp_path / "shared.txt"
    f.write_text("one\ntwo\n")
    first = plan(
        "First",
        ("read_file", {"path": "shared.txt"}),
        ("run_command", {"command": "touch a.ready && sleep 0.5"}),
        ("edit_file", {"path": "shared.txt", "old": "one", "new": "ONE"}),
    )
    second = plan(
        "Second",
        ("read_file", {"path": "shared.txt"}),
        ("run_command", {"command": "touch b.ready && sleep 2"}),
        ("edit_file", {"path": "shared.txt", "old": "two", "new": "TWO"}),
        ("read_file", {"path": "shared.txt"}),
        ("edit_file", {"path": "shared.txt", "old": "two", "new": "TWO"}),
    )
    client = DalsClient(runtime.env, tmp_path)
    await client.start()
    try:
        a = (await client.command("dals.startTask", {"prompt": first}))["taskId"]
        b = (await client.command("dals.startTask", {"prompt": second}))["taskId"]
        events_a = await client.wait_finished(a)
        events_b = await client.wait_finished(b)
    finally:
        await client.stop()
    assert events_a[-1]["status"] == "succeeded" and events_b[-1]["status"] == "succeeded"
    assert f.read_text() == "ONE\nTWO\n"
    refused = [e for e in events_b if e["kind"] == "edit" and e["title"].endswith("failed")]
    assert len(refused) == 1 and "changed since read" in refused[0]["detail"]["error"]
    assert len([e for e in events_b if e["kind"] == "edit" and not e["title"].endswith("failed")]) == 1
