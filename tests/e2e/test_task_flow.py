"""End to end over stdio: a real LSP client drives `dals lsp`, which drives the real runtime."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.support.lsp_client import DalsClient
from tests.support.runtime import without_replays

PLAN = "\n".join(
    [
        "Make the greeting louder",
        '/read_file {"path": "app.py"}',
        '/edit_file {"path": "app.py", "old": "hello", "new": "HELLO"}',
        '/run_command {"command": "mkdir -p out && cd out && export STAGE=two"}',
        '/run_command {"command": "echo $STAGE > where.txt; pwd"}',
        '/write_file {"path": "notes.md", "content": "done\\n"}',
    ]
)


@pytest.fixture
def workspace(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "app.py").write_text("print('hello')\n")
    return ws


async def test_task_streams_contiguous_events_and_progress(runtime, workspace):
    # the worker shares dals lsp's state dir: it wakes dals lsp with loopback datagrams that carry
    # the writes (the fallback for a worker elsewhere: tests/integration/test_event_pushes.py)
    client = DalsClient(runtime.env, workspace)
    try:
        result = await client.start()
        assert "dals.startTask" in result.capabilities.execute_command_provider.commands
        started = await client.command("dals.startTask", {"prompt": PLAN, "uri": (workspace / "app.py").as_uri()})
        task_id = started["taskId"]
        events = await client.wait_finished(task_id)
        seqs = [e["seq"] for e in events]
        assert seqs == list(range(1, len(seqs) + 1)), seqs
        assert events[-1]["status"] == "succeeded"
        kinds = [e["kind"] for e in events]
        assert kinds.count("model") == 6 and kinds.count("tool") == 3 and kinds.count("edit") == 2
        # the stateless shell carried cd and export across fresh processes
        assert (workspace / "out" / "where.txt").read_text().strip() == "two"
        assert (workspace / "app.py").read_text() == "print('HELLO')\n"
        # progress: begin, reports, end for the task's token (the end follows the last event)
        token = f"dals-task-{task_id}"

        async def progress_ended():
            while not ((r := client.client.progress_reports.get(token)) and r[-1].kind == "end"):
                await asyncio.sleep(0.01)

        await asyncio.wait_for(progress_ended(), 10)
        reports = client.client.progress_reports[token]
        assert reports[0].kind == "begin" and [r.kind for r in reports].count("end") == 1
        shown = await client.command("dals.showTask", {"taskId": task_id})
        assert [e["seq"] for e in shown["events"]] == seqs
        assert shown["usage"]["requests"] == 6 and shown["status"] == "succeeded"
        # each notification carried the task's summary; the last one's is the task's final one
        assert all(e["summary"]["taskId"] == task_id and e["summary"]["lastSeq"] >= e["seq"] for e in events)
        final = events[-1]["summary"]
        assert (final["status"], final["steps"], without_replays(final["usageLine"])) == (
            "succeeded",
            shown["steps"],
            without_replays(shown["usageLine"]),
        )
        assert shown.get("wakeup") == "hint"  # chosen by the worker: it shares the state dir
        assert shown["rev"] == shown["lastSeq"] == len(seqs)  # one revision per summary write (per event here)
        assert any("succeeded" in m.message for m in client.client.messages)
    finally:
        await client.stop()

    # A new `dals lsp` lists and shows the finished task with its whole history.
    again = DalsClient(runtime.env, workspace)
    try:
        await again.start()
        listed = await again.command("dals.listTasks", {})
        mine = [t for t in listed["tasks"] if t["taskId"] == task_id]
        assert mine and mine[0]["status"] == "succeeded" and mine[0]["steps"] == 11
        shown = await again.command("dals.showTask", {"taskId": task_id})
        assert [e["seq"] for e in shown["events"]] == seqs
        # the history is the events as they were notified, less the summary each one carried
        assert json.dumps(shown["events"]) == json.dumps(
            [{k: v for k, v in e.items() if k != "summary"} for e in events]
        )
    finally:
        await again.stop()
