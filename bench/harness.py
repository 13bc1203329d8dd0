"""Shared pieces of the DALS benchmarks: a private runtime, task specs, a poller, a real LSP
client, Restate's journal, statistics. What processes cost (CPU, RSS, disk): resource_use.py.

Each benchmark starts its own runtime (`control.up()`) in a temporary `DALS_STATE_DIR` with
`DALS_MODEL=offline`, and stops it by pid at the end (`control.down()`, then SIGKILL of any pid
it saw that is still alive). Every `dals lsp` it starts is stopped by pid too. Nothing here
touches the user's default state dir.
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
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dals.durable.task_status import TERMINAL
from dals.local.pids import pid_alive

if TYPE_CHECKING:
    from dals.durable.task_spec import TaskSpec


def machine() -> str:
    return f"nproc={os.cpu_count()}, Python {platform.python_version()}, {platform.system()} {platform.release()}"


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def ratio(x: float, y: float) -> float:
    """x / y, NaN when y is 0 (a median of 0 ms at Restate's ms resolution)."""
    return x / y if y else float("nan")


def parse_at(at: str) -> float:
    """An event's `at` (ISO 8601, `Z`) as epoch seconds."""
    return datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()


def started_at(pid: int | None) -> int | None:
    """The process's start time (clock ticks since boot, /proc/PID/stat field 22): with the pid,
    it names one process, so a pid reused by someone else's process is never signalled."""
    if not pid:
        return None
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(") ", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def same_process(pid: int, start: int | None) -> bool:
    return start is not None and pid_alive(pid) and started_at(pid) == start


@contextlib.contextmanager
def private_runtime(keep: bool = False, worker_processes: int | None = None) -> Iterator[dict]:
    """`dals up` in a fresh temp state dir (offline model); yields the status with the runtime's pids.
    `worker_processes`: `DALS_WORKER_PROCESSES` for it. Several may be up at once: `use_runtime(st)`
    points this process (`DALS_STATE_DIR`) at one of them."""
    state = Path(tempfile.mkdtemp(prefix="dals-bench-"))
    os.environ["DALS_STATE_DIR"] = str(state)
    os.environ["DALS_MODEL"] = "offline"
    if worker_processes:
        os.environ["DALS_WORKER_PROCESSES"] = str(worker_processes)
    os.environ.pop("DALS_RESTATE_INGRESS_URL", None)
    os.environ.pop("DALS_RESTATE_ADMIN_URL", None)
    from dals.runtime import control

    seen: dict[int, int | None] = {}  # pid -> start time

    def remember(st: dict) -> dict:
        for part in ("restate", "worker", "supervisor", "zygote"):
            pids = [(st.get(part) or {}).get("pid"), *(st.get(part) or {}).get("pids", [])]
            for pid in pids:
                if pid and pid not in seen and pid_alive(pid):
                    seen[pid] = started_at(pid)
        return st

    t0 = time.monotonic()
    try:
        st = remember(control.up())
        st["upSeconds"] = time.monotonic() - t0
        st["remember"] = remember
        remember(runtime_pids())
        yield st
    finally:
        os.environ["DALS_STATE_DIR"] = str(state)
        with contextlib.suppress(Exception):
            remember(control.status())
            remember(runtime_pids())
        control.down()
        deadline = time.monotonic() + 20
        for pid, start in seen.items():
            while same_process(pid, start) and time.monotonic() < deadline:
                time.sleep(0.05)
            if same_process(pid, start):
                os.kill(pid, signal.SIGKILL)
        if not keep:
            shutil.rmtree(state, ignore_errors=True)


def use_runtime(st: dict) -> None:
    """Point this process (and the `dals lsp` it starts from now on) at `st`'s runtime."""
    os.environ["DALS_STATE_DIR"] = st["stateDir"]


def task_service(st: dict):
    from dals.client.restate_api import RestateApi
    from dals.client.tasks import TaskService
    from dals.trust.client_keys import signing_key

    return TaskService(
        RestateApi(st["restate"]["ingress"], st["restate"]["admin"]), key=signing_key(Path(st["stateDir"]))
    )


async def close_service(service) -> None:
    """Stop the service's hint listener (unregistering it) and close its HTTP client."""
    service.close_hints()
    await service.api.aclose()


def make_workspace() -> Path:
    ws = Path(tempfile.mkdtemp(prefix="dals-bench-ws-"))
    atexit.register(shutil.rmtree, ws, True)
    (ws / "a.py").write_text("def greet(name):\n    return f'hello {name}'\n" * 20)
    return ws


def make_spec(prompt: str, workspace: Path, wakeup: str = "hint", **fields: Any) -> TaskSpec:
    """A task's spec as `build_spec` makes it (`hint`: the worker finds this state dir's `origin`
    and uses it), or (`feed`) as the worker chooses it for a front end elsewhere: everything
    through Restate (`dals.durable.side_channels.ELSEWHERE`), the fallback's cost."""
    from dals.client.tasks import build_spec
    from dals.durable.side_channels import ELSEWHERE

    where = {**ELSEWHERE, "origin": None} if wakeup == "feed" else {}
    return build_spec(prompt, workspace, "offline", commands_allow=["*"], requestLimit=1000, **where, **fields)


WAKEUPS = ("feed", "hint")


def wakeups_arg(value: str) -> list[str]:
    """`--wakeup feed,hint`: the wake-up modes to measure, in this order (argparse `type=`)."""
    import argparse

    modes = [m.strip() for m in value.split(",") if m.strip()]
    if not modes or any(m not in WAKEUPS for m in modes) or len(set(modes)) != len(modes):
        raise argparse.ArgumentTypeError(f"expected a comma-separated list of {', '.join(WAKEUPS)}; got {value!r}")
    return modes


def big_python_file(workspace: Path, functions: int = 2500) -> Path:
    """A 5,000-line Python file (2 lines per function) for the editor-side benchmarks."""
    path = workspace / "big.py"
    path.write_text("".join(f"def f{i}(x):\n    return x + {i}\n" for i in range(functions)))
    return path


def lsp_range(l1: int, c1: int, l2: int, c2: int):
    from lsprotocol import types

    return types.Range(start=types.Position(line=l1, character=c1), end=types.Position(line=l2, character=c2))


def read_plan(n: int) -> str:
    return "\n".join(["Benchmark: read a.py repeatedly"] + ['/read_file {"path": "a.py"}'] * n)


# What `follow` did, for reports: reads of `AgentTask/events`, and how many of them were re-reads
# because a hint came before Restate showed the write.
FOLLOW_STATS = {"reads": 0, "early": 0, "pushed": 0}


async def follow(service, task_id: str, interval: float = 0.01, on_event=None, timeout: float = 300.0) -> list[dict]:
    """Follow the task until its terminal status event; returns the events, each with the
    follower's monotonic `seenAt`. `interval=0`: as `dals lsp` and `dals run` do
    (`dals.client.task_follow`: pushes, hints, the feed's long-poll); otherwise a plain poll of
    `events_since` every `interval` s (the baseline). Restate being down (a chaos run) is retried."""
    from dals.client.restate_api import RestateUnavailable
    from dals.client.task_follow import TaskFollower

    events: list[dict] = []

    def take(page_events: list[dict]) -> bool:
        now = time.monotonic()
        for e in page_events:
            since = events[-1]["seq"] if events else 0
            if e["seq"] != since + 1:
                raise AssertionError(f"gap or duplicate: got seq {e['seq']} after {since}")
            e["seenAt"] = now
            events.append(e)
            if on_event:
                on_event(e)
        return bool(events) and events[-1]["kind"] == "status" and events[-1]["status"] in TERMINAL

    async def poll() -> None:
        while True:
            try:
                FOLLOW_STATS["reads"] += 1
                page = await service.events_since(task_id, events[-1]["seq"] if events else 0)
            except RestateUnavailable:
                await asyncio.sleep(interval)
                continue
            if take(page["events"]):
                return
            cursor = events[-1]["seq"] if events else 0
            if not page["summary"] or cursor >= page["summary"]["lastSeq"]:
                await asyncio.sleep(interval)  # else more than one page: read on

    async def as_clients_do() -> None:
        reader = TaskFollower(service, task_id)
        try:
            async for page in reader.pages():
                if take(page.events):
                    return
        finally:
            FOLLOW_STATS["reads"] += reader.reads
            if reader.pacer is not None:
                FOLLOW_STATS["early"] += reader.pacer.early_reads
                FOLLOW_STATS["pushed"] += reader.pacer.pushed_pages

    try:
        await asyncio.wait_for(as_clients_do() if interval == 0 else poll(), timeout)
    except TimeoutError:
        raise AssertionError(f"task {task_id} not finished after {timeout}s ({len(events)} events)") from None
    return events


def met(value: float, target: float, at_least: bool = False) -> str:
    """The verdict on a target, "met" or "NOT met": `value` at most `target` (at least, with `at_least`)."""
    return "met" if (value >= target if at_least else value <= target) else "NOT met"


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


def summary_row(name: str, xs: list[float]) -> list[Any]:
    """name, n, p50, p95, max (of values in ms)."""
    return [name, len(xs), pct(xs, 50), pct(xs, 95), max(xs) if xs else float("nan")]


# --- processes (their CPU, memory and disk: resource_use.py) -----------------------------------


def runtime_pids() -> dict[str, dict]:
    """The runtime's processes as the supervisor recorded them (runtime.json, what `dals status` reads),
    shaped like `dals status` so `private_runtime`'s `remember` takes it."""
    from dals.runtime import control

    data = control.layout().read_runtime()
    out = {part: {"pid": (data.get(part) or {}).get("pid")} for part in ("restate", "worker", "zygote")}
    out["worker"]["pids"] = control.layout().worker_pids()
    out["supervisor"] = {"pid": data.get("supervisor")}
    return out


def kill_pid(pid: int | None, start: int | None, wait: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after `wait` s, of one process we started (never by name), if it is
    still that process (`start` from `started_at`)."""
    if not pid or not same_process(pid, start):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait
    while same_process(pid, start) and time.monotonic() < deadline:
        time.sleep(0.05)
    if same_process(pid, start):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


# --- a real LSP client ----------------------------------------------------------------------


class _StampedList(list):
    def append(self, item: Any) -> None:
        if isinstance(item, dict):
            item.setdefault("receivedAt", time.time())  # wall clock, comparable with Restate's
        super().append(item)


class _StampedEvents(dict):
    """`DalsClient.events` that stamps each `dals/taskEvent` with its arrival time."""

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            self[key] = _StampedList()
        return self[key]


@contextlib.asynccontextmanager
async def lsp_client(
    workspace: Path, init_options: dict | None = None, env: dict[str, str] | None = None
) -> AsyncIterator[Any]:
    """A pytest-lsp client driving `dals lsp` over stdio (tests/support/lsp_client.py), on the
    runtime of the current `DALS_STATE_DIR`, with `env` added to this process's environment; each event gets `receivedAt` (epoch s). The server process is stopped
    politely, then by pid. Yields the client; `client.init_ms` is the time from spawning `dals lsp`
    to its InitializeResult."""
    repo = str(Path(__file__).resolve().parents[1])
    if repo not in sys.path:
        sys.path.insert(0, repo)
    from tests.support.lsp_client import DalsClient

    client = DalsClient(dict(os.environ) | (env or {}), workspace)
    client.events = _StampedEvents()
    client.deltas = _StampedEvents()  # dals/taskDelta, stamped alike
    t0 = time.perf_counter()
    await client.start(init_options)
    client.init_ms = (time.perf_counter() - t0) * 1e3
    pid = client.pid
    start = started_at(pid)
    try:
        yield client
    finally:
        await client.stop()
        kill_pid(pid, start, wait=5.0)


# --- Restate's journal ----------------------------------------------------------------------


async def invocation_of(api, task_id: str) -> dict:
    """The task's latest `AgentTask/run` invocation row from `sys_invocation`."""
    rows = await api.query(
        "SELECT id, status, journal_size, created_at, running_at, last_start_at, completed_at, retry_count "
        f"FROM sys_invocation WHERE target_service_name = 'AgentTask' AND target_handler_name = 'run' "
        f"AND target_service_key = '{task_id}'"
    )
    if not rows:
        raise AssertionError(f"no invocation for task {task_id}")
    return sorted(rows, key=lambda r: str(r.get("created_at")))[-1]


async def journal(api, invocation_id: str) -> list[dict]:
    """The invocation's journal entries (index, entry_type, name, appended_at, entry_lite_json)."""
    return await api.query(
        "SELECT index, entry_type, name, appended_at, entry_lite_json FROM sys_journal "
        f"WHERE id = '{invocation_id}' ORDER BY index"
    )


async def invocation_times(api, ids: list[str]) -> dict[str, dict]:
    """created_at / completed_at (epoch s) of invocations that keep their record (e.g. TaskFeed/publish)."""
    out: dict[str, dict] = {}
    for i in range(0, len(ids), 200):
        chunk = ", ".join(f"'{x}'" for x in ids[i : i + 200])
        for r in await api.query(f"SELECT id, created_at, completed_at FROM sys_invocation WHERE id IN ({chunk})"):
            if r.get("created_at") and r.get("completed_at"):
                out[r["id"]] = {"created": parse_at(r["created_at"]), "completed": parse_at(r["completed_at"])}
    return out


def event_entries(entries: list[dict]) -> dict[int, dict]:
    """For each task event seq: when Restate appended the event's own `SetState event:NNNNNN`
    entry (`set`); for a model or tool event, the completion of the journaled step it describes
    (`step`: the `Notification: Run` of the last non-timestamp `Command: Run` before it); and the
    invocation id of the `TaskFeed/publish` one-way call that wakes the event's readers (`publish`)."""
    import json

    run_names: dict[int, str] = {}  # completion id -> run name
    last_step: dict | None = None
    out: dict[int, dict] = {}
    current: dict = {}
    for e in entries:
        lite = json.loads(e.get("entry_lite_json") or "{}")
        kind = e["entry_type"]
        if kind == "Command: Run":
            run = lite.get("Command", {}).get("Run", {})
            run_names[run.get("completion_id")] = run.get("name") or e.get("name") or ""
        elif kind == "Notification: Run":
            cid = (lite.get("Notification", {}).get("id") or {}).get("CompletionId")
            name = run_names.get(cid, "")
            if name != "timestamp":
                last_step = {"name": name, "at": parse_at(e["appended_at"]), "index": e["index"]}
        elif kind == "Command: SetState":
            key = lite.get("Command", {}).get("SetState", {}).get("key", "")
            if key.startswith("event:"):
                current = out[int(key.split(":")[1])] = {
                    "set": parse_at(e["appended_at"]),
                    "step": last_step,
                    "index": e["index"],
                    "publish": None,
                }
                last_step = None
        elif kind == "Command: OneWayCall" and out:
            call = lite.get("Command", {}).get("OneWayCall", {})
            target = (call.get("invocation_target") or {}).get("VirtualObject") or {}
            if target.get("handler") == "publish" and current.get("publish") is None:
                current["publish"] = call.get("invocation_id")
    return out
