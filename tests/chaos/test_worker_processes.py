"""Several worker processes on one port (`DALS_WORKER_PROCESSES=2`), proven with kill -9.

Four tasks run at once on a runtime with two worker processes; each has a slow command that
records its own process ancestry. While all four slow commands run, the worker process running
the first task is killed. Afterwards: every task finished by itself, no model request was sent
twice, each step's side effect happened exactly once (the killed command's only by its re-run),
and the supervisor put a process back beside the survivor.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import uuid
from pathlib import Path

import pytest

from tests.chaos.conftest import runtime_on
from tests.support.lsp_client import DalsClient
from tests.support.openai_double import conversation_key
from tests.support.runtime import Runtime, parent_of, wait_for

TASKS = 4


@pytest.fixture(scope="module")
def runtime(chaos_double):
    with runtime_on(chaos_double, DALS_WORKER_PROCESSES="2") as rt:
        yield rt


def plan(tag: str) -> str:
    d = tag
    steps = [
        {"write_file": {"path": f"{d}/a.txt", "content": "one\n"}},
        {"run_command": {"command": f"echo s2 >> {d}/effects.log"}},
        {
            "run_command": {
                "command": f"echo $$ > {d}/runner.pid && touch {d}/slow.started && sleep 3 "
                f"&& echo s3 >> {d}/effects.log"
            }
        },
        {"run_command": {"command": f"echo s4 >> {d}/effects.log"}},
        {"read_file": {"path": f"{d}/a.txt"}},
    ]
    lines = [f"Worker processes {tag}"] + [f"/{tool} {json.dumps(args)}" for s in steps for tool, args in s.items()]
    return "\n".join(lines)


def worker_running(pid: int, workers: set[int]) -> int | None:
    """The worker process among `workers` that `pid` descends from."""
    while pid and pid > 1:
        if pid in workers:
            return pid
        pid = parent_of(pid)
    return None


def test_status_names_every_worker_process(runtime):
    st = runtime.status()
    pids = st["worker"]["pids"]
    assert len(pids) == 2 and len(set(pids)) == 2, st["worker"]
    assert st["worker"]["pid"] == pids[0] and st["worker"]["healthy"]
    for pid in pids:  # forked by the fork server, which names them
        assert Path(f"/proc/{pid}/comm").read_text().strip() == "dals worker", pid
    forks = [line for line in (runtime.state_dir / "logs" / "worker.log").read_text().splitlines() if "forking" in line]
    assert len(forks) >= 2 and all("'shared': True" in line for line in forks), forks
    assert "(+1 more process on the port)" in runtime.dals("status").stdout


async def test_kill9_of_one_worker_process_loses_nothing(runtime, chaos_double, tmp_path):
    double = chaos_double
    workers = set(runtime.status()["worker"]["pids"])
    client = DalsClient(runtime.env, tmp_path)
    await client.start()
    try:
        tags = [uuid.uuid4().hex[:8] for _ in range(TASKS)]
        ids = [(await client.command("dals.startTask", {"prompt": plan(t)}))["taskId"] for t in tags]
        for t in tags:
            await asyncio.to_thread(
                wait_for,
                lambda t=t: (
                    (tmp_path / t / "runner.pid").exists() and (tmp_path / t / "runner.pid").read_text().strip()
                ),
                60,
                f"task {t}'s slow command to start",
            )
        runners = {t: worker_running(int((tmp_path / t / "runner.pid").read_text()), workers) for t in tags}
        assert set(runners.values()) <= workers and None not in runners.values(), (runners, workers)
        victim = runners[tags[0]]
        os.kill(victim, signal.SIGKILL)
        shown = []
        for task_id in ids:
            await client.wait_finished(task_id, timeout=120)
            shown.append(await client.command("dals.showTask", {"taskId": task_id}))
    finally:
        await client.stop()
    assert not double.repeated(), f"model requests sent twice: {double.repeated()}"
    for t, got in zip(tags, shown):
        assert got["status"] == "succeeded", (t, got.get("error") or got.get("lastFailure"))
        effects = (tmp_path / t / "effects.log").read_text().splitlines()
        assert [effects.count(s) for s in ("s2", "s3", "s4")] == [1, 1, 1], (t, runners[t] == victim, effects)
        assert double.count(key=conversation_key(got["prompt"])) == 6, t
        seqs = [e["seq"] for e in got["events"]]
        assert seqs == list(range(1, len(seqs) + 1)), t

    # the killed process was replaced: two worker processes again, the survivor among them
    def two_again():
        st = runtime.status()
        return st if len(st["worker"]["pids"]) == 2 else None

    st = await asyncio.to_thread(wait_for, two_again, 60, "two worker processes again")
    now = set(st["worker"]["pids"])
    assert victim not in now and (workers - {victim}) <= now, (victim, workers, now)


def test_down_stops_every_worker_process(tmp_path):
    rt = Runtime(tmp_path / "state", {"DALS_MODEL": "offline", "DALS_WORKER_PROCESSES": "3"})
    try:
        st = rt.up()
        pids = st["worker"]["pids"]
        assert len(pids) == 3 and st["worker"]["healthy"], st["worker"]
        port = int(st["worker"]["url"].rsplit(":", 1)[1])
        rt.dals("down")
        wait_for(lambda: not any(Path(f"/proc/{p}").exists() for p in pids), 30, "every worker process gone")
        with socket.socket() as s:  # no process still listens there (connections may linger in TIME_WAIT)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
    finally:
        rt.down()
