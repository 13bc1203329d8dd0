"""Shared pieces of the DALS benchmarks: a private runtime, task specs, a poller, statistics.

Each benchmark starts its own runtime (`control.up()`) in a temporary `DALS_STATE_DIR` with
`DALS_MODEL=offline`, and stops it by pid at the end (`control.down()`, then SIGKILL of any pid
it saw that is still alive). Nothing here touches the user's default state dir.
"""
from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import platform
import shutil
import signal
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

TERMINAL = ("succeeded", "failed", "cancelled")


def machine() -> str:
    return (f"nproc={os.cpu_count()}, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def parse_at(at: str) -> float:
    """An event's `at` (ISO 8601, `Z`) as epoch seconds."""
    return datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


@contextlib.contextmanager
def private_runtime(keep: bool = False) -> Iterator[dict]:
    """`dals up` in a fresh temp state dir (offline model); yields the status with the runtime's pids."""
    state = Path(tempfile.mkdtemp(prefix="dals-bench-"))
    os.environ["DALS_STATE_DIR"] = str(state)
    os.environ["DALS_MODEL"] = "offline"
    os.environ.pop("DALS_RESTATE_INGRESS_URL", None)
    os.environ.pop("DALS_RESTATE_ADMIN_URL", None)
    from dals.runtime import control

    seen: set[int] = set()

    def remember(st: dict) -> dict:
        for part in ("restate", "worker", "supervisor"):
            pid = (st.get(part) or {}).get("pid")
            if pid:
                seen.add(pid)
        return st

    t0 = time.monotonic()
    st = remember(control.up())
    st["upSeconds"] = time.monotonic() - t0
    st["remember"] = remember
    try:
        yield st
    finally:
        with contextlib.suppress(Exception):
            remember(control.status())
        control.down()
        deadline = time.monotonic() + 20
        for pid in seen:
            while pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
        if not keep:
            shutil.rmtree(state, ignore_errors=True)


def task_service(st: dict):
    from dals.client.restate_api import RestateApi
    from dals.client.tasks import TaskService

    return TaskService(RestateApi(st["restate"]["ingress"], st["restate"]["admin"]))


def make_workspace() -> Path:
    ws = Path(tempfile.mkdtemp(prefix="dals-bench-ws-"))
    atexit.register(shutil.rmtree, ws, True)
    (ws / "a.py").write_text("def greet(name):\n    return f'hello {name}'\n" * 20)
    return ws


def make_spec(prompt: str, workspace: Path) -> dict[str, Any]:
    from dals.client.tasks import new_task_id, now_iso, title_of

    return {"taskId": new_task_id(), "prompt": prompt, "title": title_of(prompt), "workspace": str(workspace),
            "model": "offline", "createdAt": now_iso(), "uri": None, "path": None, "range": None,
            "mode": "auto", "requestLimit": 1000, "commandsAllow": ["*"]}


def read_plan(n: int) -> str:
    return "\n".join(["Benchmark: read a.py repeatedly"] + ['/read_file {"path": "a.py"}'] * n)


async def follow(service, task_id: str, interval: float = 0.01, on_event=None,
                 timeout: float = 300.0) -> list[dict]:
    """Poll `events_since` until the terminal status event; returns the events, each with the
    poller's monotonic `seenAt`. Restate being down (a chaos run) is retried, not fatal.
    `interval=0`: long-poll the task's feed between reads (what `dals lsp` does)."""
    from dals.client.restate_api import RestateUnavailable

    events: list[dict] = []
    version = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        since = events[-1]["seq"] if events else 0
        try:
            page = await service.events_since(task_id, since)
        except RestateUnavailable:
            await asyncio.sleep(interval)
            continue
        now = time.monotonic()
        for e in page["events"]:
            if e["seq"] != since + 1:
                raise AssertionError(f"gap or duplicate: got seq {e['seq']} after {since}")
            since = e["seq"]
            e["seenAt"] = now
            events.append(e)
            if on_event:
                on_event(e)
        if events and events[-1]["kind"] == "status" and events[-1]["status"] in TERMINAL:
            return events
        if interval == 0:
            try:
                version = await service.wait_change(task_id, version)
            except RestateUnavailable:
                await asyncio.sleep(0.05)
        else:
            await asyncio.sleep(interval)
    raise AssertionError(f"task {task_id} not finished after {timeout}s ({len(events)} events)")


def table(headers: list[str], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.2f}" if abs(v) < 100 else f"{v:.0f}"
        return str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def command_line() -> str:
    return " ".join([".venv/bin/python", *[a for a in sys.argv]])
