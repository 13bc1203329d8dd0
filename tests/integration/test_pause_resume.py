"""A provider that keeps failing: the task retries, then pauses (not fails); `dals.resumeTask`
after the provider is back finishes it from the journal, without paying for completed steps again."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
from pathlib import Path

import pytest

from tests.support.lsp_client import DalsClient
from tests.support.openai_double import OpenAIDouble, conversation_key
from tests.support.runtime import Runtime

PLAN = "\n".join(
    [
        "Pause me",
        '/run_command {"command": "echo one >> effects.log"}',
        '/run_command {"command": "echo two >> effects.log"}',
        '/run_command {"command": "echo three >> effects.log"}',
    ]
)


@pytest.fixture(scope="module")
def failing():
    with OpenAIDouble() as double:
        state = Path(tempfile.mkdtemp(prefix="dals-pause-"))
        rt = Runtime(
            state,
            {
                "OPENAI_BASE_URL": double.base_url,
                "OPENAI_API_KEY": "test-key",
                "DALS_MODEL": "openai-chat:double",
                "DALS_TASK_MAX_ATTEMPTS": "3",
            },
        )
        rt.up()
        yield rt, double
        rt.down()
        shutil.rmtree(state, ignore_errors=True)


async def test_retrying_then_paused_then_resumed(failing, tmp_path):
    rt, double = failing
    double.fail_status = 500
    double.fail_from_step = 2  # steps 0 and 1 succeed, then the provider is down
    double.fail_until = threading.Event()
    client = DalsClient(rt.env, tmp_path)
    await client.start()
    try:
        task_id = (await client.command("dals.startTask", {"prompt": PLAN}))["taskId"]

        async def status_becomes(wanted: str, timeout: float = 90):
            async def loop():
                while True:
                    shown = await client.command("dals.showTask", {"taskId": task_id})
                    if shown["status"] == wanted:
                        return shown
                    assert shown["status"] not in ("failed", "succeeded"), (
                        shown.get("error"),
                        shown.get("lastFailure"),
                        [e["title"] for e in shown["events"]],
                    )
                    await asyncio.sleep(0.1)

            return await asyncio.wait_for(loop(), timeout)

        paused = await status_becomes("paused")
        assert "500" in paused.get("lastFailure", "")
        # each failed attempt is an event with the provider's reason; the last one pauses the task
        status_events = [e for e in paused["events"] if e["kind"] == "status"]
        retrying = [e for e in status_events if e["status"] == "retrying"]
        assert len(retrying) == 2, [e["title"] for e in status_events]  # DALS_TASK_MAX_ATTEMPTS=3
        assert all("500 Internal Server Error" in e["title"] and e["detail"]["reason"] for e in retrying)
        assert [e["detail"]["attempt"] for e in retrying] == [1, 2]
        assert status_events[-1]["status"] == "paused" and "500" in status_events[-1]["title"]
        assert paused["resume"]["requestId"]
        assert (tmp_path / "effects.log").read_text().splitlines() == ["one", "two"]
        listed = await client.command("dals.listTasks", {"status": ["paused"]})
        assert task_id in [t["taskId"] for t in listed["tasks"]]

        double.fail_until.set()
        resumed = await client.command("dals.resumeTask", {"taskId": task_id})
        assert resumed["status"] in ("running", "succeeded")
        done = await status_becomes("succeeded", 60)
        assert (tmp_path / "effects.log").read_text().splitlines() == ["one", "two", "three"]
        key = conversation_key(done["prompt"])
        # the completed steps were answered once; only the failing step was asked again
        ok = [r["step"] for r in double.requests if r["key"] == key and r["status"] == 200]
        assert sorted(ok) == [0, 1, 2, 3]
        assert done["usage"]["requests"] == 4
        assert [e["seq"] for e in done["events"]] == list(range(1, len(done["events"]) + 1))
        assert [e["title"] for e in done["events"] if e["kind"] == "status"][-2:] == ["Resumed", "Task succeeded"]
        assert done["lastFailure"] is None and done["resume"] is None
    finally:
        await client.stop()
