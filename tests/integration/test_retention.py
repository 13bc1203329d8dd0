"""Retention against the real runtime: `dals purge` removes finished tasks (state of every object
keyed by the task, and their invocations) and never touches one that still runs; `--dry-run`
removes nothing; the supervisor purges by `DALS_RETENTION_DAYS` when it starts.

A runtime of its own: purging every finished task would pull the rug from other modules' tests.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from dals.client.restate_api import RestateApi
from dals.client.tasks import TaskService, build_spec
from dals.local.endpoints import sync_client
from dals.trust.client_keys import ensure_private_key, key_file
from tests.support.runtime import Runtime, wait_for

RETENTION_S = 8.64  # DALS_RETENTION_DAYS=0.0001
TASK_OBJECTS = ("AgentTask", "TaskLedger", "TaskNotes", "TaskFeed")


@pytest.fixture(scope="module")
def rt():
    state = Path(tempfile.mkdtemp(prefix="dals-retention-"))
    runtime = Runtime(state, {"DALS_MODEL": "offline", "DALS_RETENTION_DAYS": "0.0001"})
    up(runtime)
    yield runtime
    runtime.down()
    shutil.rmtree(state, ignore_errors=True)


def up(rt: Runtime) -> None:
    st = rt.up()["restate"]
    rt.urls = (st["ingress"], st["admin"])  # asked once: each `dals status` is a process


@pytest.fixture
def ws(tmp_path):
    (tmp_path / "app.py").write_text("print('hello')\n")
    return tmp_path


def sql(rt: Runtime, query: str) -> list[dict]:
    with sync_client(rt.urls[1], timeout=30) as http:
        r = http.post("/query", json={"query": query}, headers={"accept": "application/json"})
    r.raise_for_status()
    return r.json()["rows"]


def footprint(rt: Runtime, task_ids: list[str]) -> dict[str, int]:
    """How many state entries and invocations Restate still holds for these tasks."""
    keys = ", ".join(f"'{t}'" for t in task_ids)
    objects = ", ".join(f"'{o}'" for o in TASK_OBJECTS)
    state = sql(
        rt, f"SELECT service_name, key FROM state WHERE service_name IN ({objects}) AND service_key IN ({keys})"
    )
    invocations = sql(rt, f"SELECT id FROM sys_invocation WHERE target_service_key IN ({keys})")
    return {"state": len(state), "invocations": len(invocations)}


def listed(rt: Runtime) -> dict[str, str]:
    return {t["taskId"]: t["status"] for t in json.loads(rt.dals("tasks", "--json").stdout)["tasks"]}


def run_task(rt: Runtime, ws: Path, title: str) -> str:
    plan = f'{title}\n/read_file {{"path": "app.py"}}\n/search {{"pattern": "hello"}}'
    r = rt.dals("run", plan, "--workspace", str(ws), check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    return re.search(r"^task (\S+) started", r.stdout, re.M)[1]


def purge(rt: Runtime, *args: str) -> dict:
    r = rt.dals("purge", "--json", *args, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout)


async def with_service(rt: Runtime, fn):
    api = RestateApi(*rt.urls)
    try:
        return await fn(TaskService(api, key=ensure_private_key(key_file(rt.state_dir))))
    finally:
        await api.aclose()


async def status_becomes(service: TaskService, task_id: str, wanted: str, timeout: float = 90) -> dict:
    async def loop():
        while True:
            shown = await service.show(task_id)
            if shown["status"] == wanted:
                return shown
            assert shown["status"] not in ("failed", "cancelled"), shown
            await asyncio.sleep(0.1)

    return await asyncio.wait_for(loop(), timeout)


def test_purge_removes_finished_tasks_and_leaves_a_waiting_one(rt, ws):
    finished = [run_task(rt, ws, f"Finished {i}") for i in range(3)]
    assert all(listed(rt).get(t) == "succeeded" for t in finished)

    async def start_waiting(service: TaskService) -> str:
        spec = build_spec(
            'Wait for me\n/edit_file {"path": "app.py", "old": "hello", "new": "HELLO"}', ws, "offline", mode="review"
        )
        task_id = await service.start(spec)
        await status_becomes(service, task_id, "waiting")
        return task_id

    waiting = asyncio.run(with_service(rt, start_waiting))
    before = footprint(rt, finished)
    assert before["state"] >= 3 * 5 and before["invocations"] >= 3, before

    # --dry-run: says what would go, removes nothing
    dry = purge(rt, "--older-than", "0", "--dry-run")
    assert dry["dryRun"] and sorted(dry["tasks"]) == sorted(finished) and dry["forgotten"] == 0
    assert dry["invocationsPurged"] == before["invocations"]
    assert footprint(rt, finished) == before
    assert all(listed(rt).get(t) == "succeeded" for t in finished)

    # a real purge: the finished tasks are gone from the list and from Restate, the waiting one stays
    waiting_before = footprint(rt, [waiting])
    done = purge(rt, "--older-than", "0")
    assert sorted(done["tasks"]) == sorted(finished) and done["forgotten"] == 3 and done["errors"] == []
    assert done["invocationsPurged"] == before["invocations"]
    shown = listed(rt)
    assert not set(finished) & set(shown) and shown[waiting] == "waiting"
    wait_for(
        lambda: footprint(rt, finished) == {"state": 0, "invocations": 0},
        30,
        "the finished tasks' state and invocations to be gone",
    )
    assert footprint(rt, [waiting])["state"] == waiting_before["state"]

    # the waiting task is untouched: approve, and it finishes
    async def approve(service: TaskService) -> dict:
        pending = (await service.show(waiting))["pending"]
        await service.answer(waiting, pending["requestId"], "approve", None)
        return await status_becomes(service, waiting, "succeeded")

    shown = asyncio.run(with_service(rt, approve))
    assert [e["seq"] for e in shown["events"]] == list(range(1, len(shown["events"]) + 1))
    assert (ws / "app.py").read_text() == "print('HELLO')\n"

    # a younger cutoff leaves it alone; the text form says what happened
    r = rt.dals("purge", "--older-than", "1")
    assert r.stdout.strip() == "purged 0 finished tasks older than 1 day (0 invocations)"
    assert listed(rt)[waiting] == "succeeded"


def test_the_supervisor_purges_by_its_setting_when_it_starts(rt, ws):
    task_id = run_task(rt, ws, "Old soon")
    ended = time.monotonic()
    assert listed(rt)[task_id] == "succeeded"
    time.sleep(max(0.0, RETENTION_S + 0.5 - (time.monotonic() - ended)))
    assert task_id in listed(rt)  # the periodic purge is hourly: nothing happened yet

    rt.down()
    up(rt)
    wait_for(lambda: task_id not in listed(rt), 60, "the supervisor's start-up purge", interval=0.5)
    assert footprint(rt, [task_id]) == {"state": 0, "invocations": 0}
    log = (rt.state_dir / "logs" / "supervisor.log").read_text()
    assert re.search(r"retention: purged \d+ finished tasks? older than 8\.6 s", log), log[-2000:]
