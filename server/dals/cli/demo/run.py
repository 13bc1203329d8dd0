"""`dals demo`: a multi-step agent task survives `kill -9` of its worker, and nothing runs twice.

Owns the demo's whole life: a private runtime in a fresh state dir, a copy of the sample project,
the task (an offline-model plan, see `dals.cli.demo.plan`), the kill of the worker while the slow
step runs, the wait for the supervisor's new worker, and the ledger judged from evidence outside
DALS (the model's request log, the commands' side-effect logs). Output is the CLI's own (stdout).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

from ...client.tasks import build_spec
from ...runtime import control
from ..follow import final_summary, follow, ledger_line, retrying, task_service
from . import plan

SAMPLE = Path(__file__).parent / "sample_project"
TASK_TIMEOUT = 90.0
RESTART_TIMEOUT = 30.0


def say(text: str) -> None:
    print(text, flush=True)


def demo(keep: bool = False) -> int:
    base = Path(tempfile.mkdtemp(prefix="dals-demo-"))
    state, workspace = base / "state", base / "project"
    request_log = state / "model-requests.jsonl"
    os.environ["DALS_STATE_DIR"] = str(state)  # before `up`: the runtime inherits all of these
    os.environ["DALS_OFFLINE_REQUEST_LOG"] = str(request_log)
    os.environ["DALS_MODEL"] = "offline"
    for name in ("DALS_RESTATE_INGRESS_URL", "DALS_RESTATE_ADMIN_URL"):
        os.environ.pop(name, None)  # the demo kills its own worker: it needs its own runtime
    shutil.copytree(SAMPLE, workspace, ignore=shutil.ignore_patterns("__pycache__", ".dals-demo"))
    try:
        return asyncio.run(_demo(workspace, request_log))
    except KeyboardInterrupt:
        say("demo interrupted")
        return 130
    except control.RuntimeError_ as e:
        say(f"demo: the runtime did not start: {e}")
        return 1
    finally:
        if keep:
            say(f"kept: project {workspace}, runtime state {state}")
            say(f"      inspect with `DALS_STATE_DIR={state} dals tasks`, stop with `DALS_STATE_DIR={state} dals down`")
        else:
            say(f"==> stopping the runtime ({_runtime_pids()})")
            control.down()
            shutil.rmtree(base, ignore_errors=True)
            say("runtime stopped, temporary files removed")


def _runtime_pids() -> str:
    """Every process of the runtime by pid, the fork server included, so it can be seen to end."""
    data = control.layout().read_runtime()
    parts = [(name, (data.get(name) or {}).get("pid")) for name in ("restate", "worker", "zygote")]
    parts.append(("supervisor", data.get("supervisor")))
    return ", ".join(f"{name} pid {pid}" for name, pid in parts if pid) or "no processes"


async def _demo(workspace: Path, request_log: Path) -> int:
    say(f"==> starting a private DALS runtime (state dir {os.environ['DALS_STATE_DIR']})")
    t0 = time.monotonic()
    async with task_service() as service:
        st = await asyncio.to_thread(control.status)
        say(
            f"    runtime up in {time.monotonic() - t0:.1f}s: restate pid {st['restate']['pid']}, "
            f"worker pid {st['worker']['pid']}, supervisor pid {st['supervisor']['pid']}"
        )
        spec = build_spec(plan.prompt(), workspace, "offline", commands_allow=["*"])
        task_id = await retrying(lambda: service.start(spec))
        say(f"==> task {task_id}: {spec.title}")
        say(f"    {len(plan.plan_steps())} planned tool calls in {workspace}; step {plan.SLOW_STEP} is slow")
        killer = WorkerKiller(workspace)
        summary = await asyncio.wait_for(follow(service, task_id, killer.on_event), TASK_TIMEOUT)
        if killer.killed and summary.get("status") == "succeeded":
            summary = await _with_replays(service, task_id, summary)
    return _ledger(summary, plan.gather(request_log, workspace), killer)


class WorkerKiller:
    """Prints the events; kills the worker with SIGKILL once the slow command is in flight."""

    def __init__(self, workspace: Path):
        self.workspace = workspace
        self.killed = False
        self.in_flight = False

    async def on_event(self, event: dict, summary: dict | None) -> None:
        say(f"    #{event['seq']:<3} {event['kind']:<6} {event['title']}")
        if self.killed or not plan.is_slow_step(event):
            return
        self.killed = True
        self.in_flight = await asyncio.to_thread(self._wait_started, 5.0)
        old = (await asyncio.to_thread(control.status))["worker"]["pid"]
        if not old:
            say("    (no worker pid to kill)")
            return
        os.kill(old, signal.SIGKILL)
        when = "while its command runs" if self.in_flight else "before its command started"
        say(f"==> kill -9 worker pid {old} {when} (step {plan.SLOW_STEP})")
        t0 = time.monotonic()
        new = await asyncio.to_thread(self._wait_new_worker, old)
        say(
            f"==> the supervisor started worker pid {new}, healthy after {time.monotonic() - t0:.1f}s; "
            "the task resumes from its journal"
        )

    def _wait_started(self, timeout: float) -> bool:
        marker = self.workspace / plan.STARTED_LOG
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if marker.exists():
                return True
            time.sleep(0.02)
        return False

    def _wait_new_worker(self, old: int) -> int:
        deadline = time.monotonic() + RESTART_TIMEOUT
        while time.monotonic() < deadline:
            w = control.status()["worker"]
            if w["pid"] and w["pid"] != old and w["healthy"]:
                return w["pid"]
            time.sleep(0.1)
        raise control.RuntimeError_(f"no new healthy worker {RESTART_TIMEOUT:.0f}s after the kill")


async def _with_replays(service, task_id: str, summary: dict) -> dict:
    """The worker reports replays beside the journal, a moment after the task ends: wait for it."""
    deadline = time.monotonic() + 5.0
    while summary["usage"].get("replayedRequests", 0) == 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        summary = await final_summary(service, task_id, summary)
    return summary


def _ledger(summary: dict, ev: plan.Evidence, killer: WorkerKiller) -> int:
    status = summary.get("status")
    usage = summary.get("usage") or {}
    say(f"==> task {status}: {summary.get('result') or summary.get('error') or summary.get('lastFailure') or ''}")
    say("    " + ledger_line(summary))
    if killer.killed:
        replayed = usage.get("replayedRequests", 0)
        say(f"    after the kill, {replayed} model requests were answered from the journal, not the model")
    if ev.in_flight_restarts:
        say(
            f"    step {plan.SLOW_STEP}'s command was running at the kill and died with the worker: it was "
            f"restarted ({ev.in_flight_restarts + 1} starts) and its side effect landed once"
        )
    for k in ev.missing:
        say(f"    step {k}'s side effect is missing from {plan.STEPS_LOG}")
    for k in ev.resent_steps:
        say(f"    model request for step {k} was sent more than once")
    tool_calls = usage.get("toolCalls", 0)
    say(
        f"ledger: {ev.requests} model requests, {len(ev.resent_steps)} re-sent; {tool_calls} tool calls, "
        f"{ev.in_flight_restarts} restarted after the kill, {len(ev.repeated)} side effects repeated"
    )
    good = status == "succeeded" and ev.ok and killer.killed
    say(
        "demo passed: the task survived kill -9 with no repeated model request or side effect"
        if good
        else "demo FAILED"
    )
    return 0 if good else 1
