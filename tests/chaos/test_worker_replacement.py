"""A dead worker is always replaced by one that serves (the supervisor, `runtime/supervisor.py`).

Two ways it once was not, both found by the crash campaign:
- every command a task ran inherited the worker's listening socket (hypercorn marks it inheritable
  and uvloop's subprocesses ignore `close_fds`), so a worker killed during a command left its port
  taken while the command was being ended, and the standby taking over could fail to bind;
- a worker that had been the warm standby (before the fork server replaced it), dying when no
  standby was left, was started again as a standby: a process waiting for a wake-up nobody sends,
  which the supervisor then waited on for ever (`dals status`: worker unhealthy; every `dals lsp`
  after it: "runtime not ready"). Each replacement is now a new forked worker.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import uuid

from tests.support.lsp_client import DalsClient
from tests.support.runtime import parent_of


async def _command_task(rt, ws, title: str, command: str) -> dict:
    """Run a task of one `run_command` step to its end; what `dals.showTask` says of it."""
    prompt = f"{title} {uuid.uuid4().hex[:8]}\n/run_command {json.dumps({'command': command})}"
    client = DalsClient(rt.env, ws)
    await client.start()
    try:
        task_id = (await client.command("dals.startTask", {"prompt": prompt}))["taskId"]
        await client.wait_finished(task_id, timeout=120)
        return await client.command("dals.showTask", {"taskId": task_id})
    finally:
        await client.stop()


async def test_commands_do_not_inherit_the_worker_port(chaos_runtime, tmp_path):
    # The shell that runs the command lists its own descriptors.
    shown = await _command_task(chaos_runtime, tmp_path, "List descriptors", "ls -l /proc/$$/fd > fds.txt")
    assert shown["status"] == "succeeded", shown.get("error")
    listing = (tmp_path / "fds.txt").read_text()
    fds = dict(line.split()[-3::2] for line in listing.splitlines() if " -> " in line)
    assert {"0", "1", "2"} <= fds.keys(), listing
    # stdout and stderr may be socket pairs to the worker (uvloop's pipes); nothing else may be
    inherited = {fd: target for fd, target in fds.items() if fd not in ("0", "1", "2") and "socket:" in target}
    assert not inherited, f"the command inherited sockets of the worker:\n{listing}"


async def test_a_replacement_killed_at_once_is_replaced_again_by_a_forked_worker(chaos_runtime, tmp_path):
    """Each replacement is a new process forked by the fork server (no standby left to wait on):
    one killed as soon as it answers is replaced again, and tasks run on the third."""
    first = chaos_runtime.status()["worker"]["pid"]
    zygote = chaos_runtime.status()["zygote"]["pid"]
    os.kill(first, signal.SIGKILL)
    st = await asyncio.to_thread(chaos_runtime.healthy_again, "worker", first)
    second = st["worker"]["pid"]
    os.kill(second, signal.SIGKILL)
    st = await asyncio.to_thread(chaos_runtime.healthy_again, "worker", second)
    third = st["worker"]["pid"]
    assert third not in (first, second)
    assert parent_of(third) == zygote  # forked, warm: not a cold `dals worker` process
    # and tasks run on it
    shown = await _command_task(chaos_runtime, tmp_path, "After two replacements", "echo ran > ran.txt")
    assert shown["status"] == "succeeded", shown.get("error")
    assert (tmp_path / "ran.txt").read_text() == "ran\n"
