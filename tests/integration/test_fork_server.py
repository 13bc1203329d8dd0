"""The runtime's fork server (runtime/zygote.py, docs/architecture.md "The fork server"): each
`dals lsp` of a running runtime is a forked session that lives and dies with the process the
editor started; other code runs in its own process; a killed fork server comes back without
stopping what it forked, and workers are still replaced."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from dals.local.pids import pid_alive
from tests.support.lsp_client import DalsClient
from tests.support.runtime import parent_of, wait_for

PLAN = 'Fork server\n/run_command {"command": "echo forked"}'


def _sessions_of(zygote_pid: int) -> set[int]:
    """The forked `dals lsp` sessions: children of the fork server named so."""
    found = set()
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            comm = Path(f"/proc/{entry}/comm").read_text().strip()
        except OSError:
            continue
        if comm == "dals lsp" and parent_of(int(entry)) == zygote_pid:
            found.add(int(entry))
    return found


def _gone(pid: int, what: str, timeout: float = 20) -> None:
    wait_for(lambda: not pid_alive(pid), timeout, what)


async def _new_session(runtime, tmp_path, env: dict[str, str] | None = None) -> tuple[DalsClient, set[int]]:
    zygote = runtime.status()["zygote"]["pid"]
    before = _sessions_of(zygote)
    client = DalsClient(dict(runtime.env, **(env or {})), tmp_path)
    await client.start()
    assert isinstance((await client.command("dals.listTasks"))["tasks"], list)
    return client, _sessions_of(zygote) - before


async def test_dals_lsp_is_a_forked_session_that_dies_with_the_editors_process(runtime, tmp_path):
    client, sessions = await _new_session(runtime, tmp_path)
    try:
        assert len(sessions) == 1, sessions
        (session,) = sessions
        assert session != client.pid
        started = await client.command("dals.startTask", {"prompt": PLAN})
        events = await client.wait_finished(started["taskId"], timeout=120)
        assert events[-1]["status"] == "succeeded", events[-1]
        os.kill(client.pid, signal.SIGKILL)  # as an editor that kills its server outright
        _gone(session, "the forked session to end with the process the editor started")
    finally:
        await asyncio.wait_for(client.stop(), 30)


async def test_a_signal_to_dals_lsp_reaches_its_session_and_its_exit_mirrors_it(runtime, tmp_path):
    client, sessions = await _new_session(runtime, tmp_path)
    (session,) = sessions
    proc = client.client._server
    os.kill(client.pid, signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), 20) == -signal.SIGTERM
    _gone(session, "the session to end on the SIGTERM passed on")
    await asyncio.wait_for(client.stop(), 30)


async def test_other_code_runs_in_its_own_process(runtime, tmp_path):
    other = tmp_path / "other-path"
    other.mkdir()
    client, sessions = await _new_session(runtime, tmp_path, {"PYTHONPATH": str(other)})
    try:
        assert sessions == set()  # another PYTHONPATH: never forked from code imported otherwise
    finally:
        await asyncio.wait_for(client.stop(), 30)


async def test_a_killed_fork_server_comes_back_and_workers_are_still_replaced(runtime, tmp_path):
    st = runtime.status()
    old_zygote, worker = st["zygote"]["pid"], st["worker"]["pid"]
    os.kill(old_zygote, signal.SIGKILL)
    st = runtime.healthy_again("zygote", old_zygote)
    assert st["worker"]["pid"] == worker and pid_alive(worker)  # what it forked goes on
    client = DalsClient(runtime.env, tmp_path)
    try:
        await client.start()
        started = await client.command("dals.startTask", {"prompt": PLAN})
        assert (await client.wait_finished(started["taskId"], timeout=120))[-1]["status"] == "succeeded"
        os.kill(worker, signal.SIGKILL)
        st = runtime.healthy_again("worker", worker)
        assert parent_of(st["worker"]["pid"]) == st["zygote"]["pid"]  # forked by the new fork server
        started = await client.command("dals.startTask", {"prompt": PLAN})
        assert (await client.wait_finished(started["taskId"], timeout=120))[-1]["status"] == "succeeded"
    finally:
        await asyncio.wait_for(client.stop(), 30)
