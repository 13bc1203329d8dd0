"""A task whose invocation fails the same way on every attempt (here a journal mismatch: the
worker's code changed under a task waiting for an approval) is shown `paused` with the reason at
once, not `retrying` for as long as Restate backs off, `dals doctor` lists it, and
`dals.cancelTask` ends it."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from dals.client.restate_api import RestateApi
from dals.client.tasks import TaskService, build_spec
from tests.support.runtime import DALS, REPO, Runtime

CHANGED_WORKER = REPO / "tests" / "support" / "changed_worker"


@pytest.fixture(scope="module")
def changing():
    state = Path(tempfile.mkdtemp(prefix="dals-stuck-"))
    flag = state.parent / (state.name + ".code-changed")
    rt = Runtime(
        state,
        {
            "DALS_MODEL": "offline",
            "PYTHONPATH": str(CHANGED_WORKER),
            "DALS_TEST_CODE_CHANGED": str(flag),
        },
    )
    rt.up()
    yield rt, flag
    rt.down()
    flag.unlink(missing_ok=True)
    shutil.rmtree(state, ignore_errors=True)


async def test_a_journal_mismatch_pauses_with_the_reason_and_doctor_lists_it(changing, tmp_path, monkeypatch):
    rt, flag = changing
    monkeypatch.setenv("DALS_STATE_DIR", str(rt.state_dir))  # as `dals lsp` shares its runtime's
    st = rt.status()
    service = TaskService(RestateApi(st["restate"]["ingress"], st["restate"]["admin"]))
    try:
        spec = build_spec('Stuck\n/write_file {"path": "a.txt", "content": "a"}', tmp_path, "offline", mode="review")
        task_id = await service.start(spec)
        deadline = time.monotonic() + 60
        while (shown := await service.show(task_id))["status"] != "waiting":
            assert time.monotonic() < deadline, "the task never asked for its approval"
            await asyncio.sleep(0.05)

        flag.touch()  # workers started from now on run other code: a new fork server imports it
        rt.healthy_again("zygote", rt.kill("zygote"))
        old = rt.kill("worker")
        rt.healthy_again("worker", old)
        # the answer wakes the task (suspended while it waits): its replay takes the new code's path
        await service.answer(task_id, shown["pending"]["requestId"], "approve", None)
        killed_at = time.monotonic()
        while True:
            shown = await service.show(task_id)
            if shown["status"] == "paused":
                break
            assert shown["status"] in ("waiting", "running", "retrying"), shown["status"]
            assert time.monotonic() - killed_at < 30, f"still {shown['status']}: {shown.get('lastFailure')}"
            await asyncio.sleep(0.1)
        # told at once, while Restate still backs off (it pauses only after DALS_TASK_MAX_ATTEMPTS)
        failure = shown["failure"]
        assert failure["kind"] == "journal mismatch" and failure["retryable"] is False, failure
        assert "mismatch" in shown["lastFailure"].lower() and "dals.resumeTask" in failure["fix"]
        listed = await service.list(["paused"])
        assert task_id in [t["taskId"] for t in listed]

        report = json.loads(
            subprocess.run(
                [DALS, "doctor", "--json"], env=rt.env, cwd=tmp_path, capture_output=True, text=True, timeout=120
            ).stdout
        )
        stuck = [c for c in report["checks"] if c["name"] == "tasks"]
        assert any(
            task_id in c["message"] and "journal mismatch" in c["message"] and c["level"] == "warn" for c in stuck
        ), stuck

        # it cannot run its own cancel (every attempt fails first): cancelling ends it all the same
        assert (await service.cancel(task_id))["status"] == "cancelled"
        deadline = time.monotonic() + 20
        while (shown := await service.show(task_id))["status"] != "cancelled":
            assert time.monotonic() < deadline, (shown["status"], shown.get("error"))
            await asyncio.sleep(0.1)
    finally:
        await service.api.aclose()
