"""The embedded runtime against the real restate-server binary: up, status, down, isolation,
and using an existing Restate instead of starting one."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from dals.agent.deps import now_iso
from dals.client.tasks import new_task_id
from dals.durable.task_spec import TaskSpec
from dals.local.endpoints import sync_client
from dals.runtime.layout import Layout
from tests.support.runtime import DALS, Runtime, pid_alive, wait_for


@pytest.fixture
def two_runtimes():
    dirs = [Path(tempfile.mkdtemp(prefix=f"dals-rt{i}-")) for i in range(2)]
    rts = [Runtime(d, {"DALS_MODEL": "offline"}) for d in dirs]
    yield rts
    for rt in rts:
        rt.down()
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def niceness(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[16])


def test_two_state_dirs_two_runtimes_and_down(two_runtimes):
    a, b = two_runtimes
    b.env["DALS_RUNTIME_NICE"] = "0"
    sa, sb = a.up(), b.up()
    # the runtime yields the CPU to the editor by default (DALS_RUNTIME_NICE=5), or not at all
    base = niceness(os.getpid())
    assert [niceness(sa[p]["pid"]) for p in ("restate", "worker")] == [min(19, base + 5)] * 2
    assert [niceness(sb[p]["pid"]) for p in ("restate", "worker")] == [base] * 2
    for st in (sa, sb):
        assert st["restate"]["healthy"] and st["worker"]["healthy"]
        assert st["restate"]["pid"] and st["worker"]["pid"]
        state = str(a.state_dir if st is sa else b.state_dir)
        for url in (st["restate"]["ingress"], st["restate"]["admin"]):
            assert url.startswith(f"unix:{state}/")  # Restate on sockets in the state dir only
        assert st["worker"]["url"].startswith("http://127.0.0.1:")
    assert sa["restate"]["pid"] != sb["restate"]["pid"]
    assert sa["restate"]["ingress"] != sb["restate"]["ingress"]
    assert (a.state_dir / "logs" / "restate.log").exists() and (a.state_dir / "logs" / "worker.log").exists()
    assert (a.state_dir / "restate").is_dir()
    # idempotent: a second `dals up` keeps the same processes
    assert a.up()["restate"]["pid"] == sa["restate"]["pid"]
    # down stops everything it started, and only that
    a.dals("down")
    for pid in (sa["restate"]["pid"], sa["worker"]["pid"]):
        wait_for(lambda: not pid_alive(pid), 20, f"pid {pid} to exit")
    port = int(sa["worker"]["url"].rsplit(":", 1)[1])
    assert not listening(port)
    st = a.status()
    assert not st["restate"]["healthy"] and st["restate"]["pid"] is None
    assert b.status()["restate"]["healthy"]


def test_down_while_up_is_still_starting_stops_everything(two_runtimes):
    rt = two_runtimes[0]
    up = subprocess.Popen([DALS, "up"], env=rt.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        pidfile = rt.state_dir / "supervisor.pid"
        wait_for(
            lambda: (
                pidfile.exists()
                and json.loads((rt.state_dir / "runtime.json").read_text() or "{}").get("zygote", {}).get("pid")
            ),
            60,
            "the supervisor to start its children",
        )
        started = json.loads((rt.state_dir / "runtime.json").read_text())
        assert not started["ready"]  # still starting (the fork server takes seconds to import)
        pids = [int(pidfile.read_text()), started["zygote"]["pid"], started["restate"]["pid"]]
        rt.pids.update(pids)
        assert "DALS runtime stopped" in rt.dals("down").stdout
        for pid in pids:
            wait_for(lambda: not pid_alive(pid), 20, f"pid {pid} to exit")
        _, err = up.communicate(timeout=30)  # gives up at once instead of waiting for its timeout
        assert up.returncode == 1 and "stopped (dals down) while starting" in err
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()


def test_status_json_shape_when_down(tmp_path):
    rt = Runtime(tmp_path / "state")
    st = json.loads(rt.dals("status", "--json", check=False).stdout)
    assert set(st) >= {"restate", "worker", "stateDir"}
    assert st["restate"]["pid"] is None and st["restate"]["healthy"] is False
    assert st["worker"]["healthy"] is False
    assert st["stateDir"] == str((tmp_path / "state").resolve())


def test_external_restate_starts_no_server(two_runtimes):
    host, guest = two_runtimes
    hs = host.up()
    guest.env["DALS_RESTATE_INGRESS_URL"] = hs["restate"]["ingress"]
    guest.env["DALS_RESTATE_ADMIN_URL"] = hs["restate"]["admin"]
    gs = guest.up()
    assert gs["restate"]["pid"] is None and gs["restate"]["external"] is True
    assert gs["restate"]["ingress"] == hs["restate"]["ingress"] and gs["worker"]["healthy"]
    assert not (guest.state_dir / "restate.toml").exists()
    # the external Restate now routes tasks to the guest's worker
    with sync_client(hs["restate"]["admin"]) as http:
        uris = [d.get("uri") for d in http.get("/deployments").json()["deployments"]]
    assert gs["worker"]["url"] + "/" in uris

    ws = guest.state_dir / "ws"
    ws.mkdir()
    (ws / "x.txt").write_text("x\n")

    async def run_task():
        svc = guest.task_service(hs)
        task_id = new_task_id()
        await svc.start(
            TaskSpec(
                taskId=task_id,
                prompt='/read_file {"path": "x.txt"}',
                title="ext",
                workspace=str(ws),
                model="offline",
                createdAt=now_iso(),
            )
        )
        for _ in range(300):
            shown = await svc.show(task_id)
            if shown["status"] == "succeeded":
                return shown
            await asyncio.sleep(0.05)
        raise AssertionError(f"task did not finish: {shown['status']}")

    shown = asyncio.run(run_task())
    assert [e["kind"] for e in shown["events"]] == ["status", "model", "tool", "model", "status"]
    guest.dals("down")
    assert host.status()["restate"]["healthy"]  # the external Restate is not ours to stop


def leading_partitions(rt: Runtime) -> set[int]:
    """The partitions Restate's log says a processor led (each start writes one line per partition)."""
    text = Layout(rt.state_dir).log("restate").read_text(errors="replace")
    return {int(m) for m in re.findall(r"Processor became Leader.*?partition_id=(\d+)", text)}


def run_plan(rt: Runtime, ws: Path, title: str) -> str:
    r = rt.dals("run", f'{title}\n/read_file {{"path": "x.txt"}}', "--workspace", str(ws), check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_new_state_dirs_get_one_partition_and_older_ones_keep_theirs(two_runtimes):
    old, new = two_runtimes
    ws = old.state_dir.parent / f"{old.state_dir.name}-ws"
    ws.mkdir()
    (ws / "x.txt").write_text("x\n")
    # a state dir made with 4 partitions (as DALS did before one became the default)
    old.env["DALS_RESTATE_PARTITIONS"] = "4"
    old.up()
    assert "default-num-partitions = 4" in (old.state_dir / "restate.toml").read_text()
    run_plan(old, ws, "before")
    wait_for(lambda: leading_partitions(old) == {0, 1, 2, 3}, 30, "4 partitions led")
    old.dals("down")
    # started again with the default: Restate keeps the data dir's 4, and old and new tasks work
    del old.env["DALS_RESTATE_PARTITIONS"]
    Layout(old.state_dir).log("restate").unlink()
    old.up()
    assert "default-num-partitions = 1" in (old.state_dir / "restate.toml").read_text()
    run_plan(old, ws, "after")
    wait_for(lambda: leading_partitions(old) == {0, 1, 2, 3}, 30, "the same 4 partitions led again")
    tasks = json.loads(old.dals("tasks", "--json").stdout)["tasks"]
    assert sorted(t["title"] for t in tasks) == ["after", "before"]
    assert all(t["status"] == "succeeded" for t in tasks)
    # a fresh state dir: one partition
    new.up()
    run_plan(new, ws, "fresh")
    wait_for(lambda: leading_partitions(new) == {0}, 30, "1 partition led")


def test_a_deep_state_dir_still_gets_its_sockets(tmp_path):
    """Unix socket paths are limited to 107 bytes: a state dir deeper than that still works
    (Restate binds relative paths, clients go through /proc/self/fd)."""
    deep = Path(tempfile.mkdtemp(prefix="dals-deep-")) / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    rt = Runtime(deep, {"DALS_MODEL": "offline"})
    try:
        st = rt.up()
        assert len(st["restate"]["ingress"]) > 120 and st["restate"]["healthy"]
        ws = tmp_path / "ws"
        ws.mkdir()
        (ws / "x.txt").write_text("deep\n")
        run = rt.dals("run", '/read_file {"path": "x.txt"}', "--workspace", str(ws), timeout=120)
        assert "succeeded" in run.stdout
    finally:
        rt.down()
        shutil.rmtree(deep.parents[1], ignore_errors=True)
