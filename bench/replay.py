"""Replay: how long a task with a long journal takes to resume, as a function of the journal's size.

    .venv/bin/python bench/replay.py [--quick]

A task runs M `/read_file` steps, one `/run_command {"command": "sleep 1 && echo ran >> MARKER"}`
(MARKER counts its executions) and 20 more reads (started with `TaskService.start`, events followed by long-poll as `dals lsp` does). When the
`Model: run_command` event arrives, the task's attempt is ended in one of two ways:
  - pause: `PATCH /invocations/{id}/pause` (graceful: the command finishes and is journaled), wait
    until `sys_invocation.status` is `paused`, then `PATCH …/resume`. Nothing re-runs; the new
    attempt replays the whole journal before the next step runs.
  - kill: SIGKILL of the worker 0.3 s into the `sleep 1` (the supervisor forks a warm
    replacement, Restate retries); the command re-runs, so its 1 s is subtracted.
Measured: client side, resume call (or kill) → the next event with a new seq at the poller; server
side, from Restate's own timestamps: the new attempt's `last_start_at` → `appended_at` of the
first journal entry past the old journal's end (the replay plus the first new step). M is chosen
so the journal holds about 50, 500 (and, in full mode, 1,500: a 250-step task) entries when the
attempt ends; the table shows the real `journal_size`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

SLEEP_S = 1.0
ENTRIES_PER_READ = 12  # a model step and a tool step, 6 entries each (run, completion, 2 set, publish)
TAIL = 20  # reads after the command: the run must outlive the look at its new attempt


def plan(reads: int, marker: str) -> str:
    command = f"sleep 1 && echo ran >> {marker}"  # counts the command's executions
    return "\n".join(
        [
            "Benchmark: replay a long journal",
            *['/read_file {"path": "a.py"}'] * reads,
            f'/run_command {{"command": "{command}"}}',
            *['/read_file {"path": "a.py"}'] * TAIL,
        ]
    )


async def wait_status(api, task_id: str, status: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        inv = await h.invocation_of(api, task_id)
        if inv["status"] == status:
            return inv
        await asyncio.sleep(0.05)
    raise AssertionError(f"task {task_id} not {status} after {timeout}s")


async def one(service, ws: Path, reads: int, how: str) -> dict:
    api = service.api
    marker = f"ran-{os.urandom(4).hex()}.txt"
    spec = h.make_spec(plan(reads, marker), ws)
    await service.start(spec)
    state: dict = {}
    armed = asyncio.Event()

    def on_event(e: dict) -> None:
        if "t0" in state and "next" not in state and e["seq"] > state["last_seq"]:
            state["next"] = e["seenAt"] - state["t0"]
            state["next_title"] = e["title"]
        elif not armed.is_set() and e["kind"] == "model" and e["title"] == "Model: run_command":
            state["last_seq"] = e["seq"]
            armed.set()

    async def interrupt() -> None:
        await armed.wait()
        inv = await h.invocation_of(api, spec.taskId)
        if how == "pause":
            code = await api.invocation_action(inv["id"], "pause")
            assert code < 300, f"pause refused: {code}"
            inv = await wait_status(api, spec.taskId, "paused")
            page = await service.events_since(spec.taskId, 0)
            state["last_seq"] = page["summary"]["lastSeq"]
            state["journal"] = inv["journal_size"]
            await asyncio.sleep(0.3)  # let the poller settle
            state["t0"] = time.monotonic()
            code = await api.invocation_action(inv["id"], "resume")
            assert code < 300, f"resume refused: {code}"
        else:
            await asyncio.sleep(0.3)  # the command is sleeping now
            state["journal"] = (await h.invocation_of(api, spec.taskId))["journal_size"]
            pid = h.runtime_pids()["worker"]["pid"]
            state["t0"] = time.monotonic()
            os.kill(pid, signal.SIGKILL)

    async def attempt_start() -> None:
        """Restate's `last_start_at` of the new attempt (the row drops it once the run completes)."""
        await armed.wait()
        before = (await h.invocation_of(api, spec.taskId)).get("last_start_at")
        while "t0" not in state:
            await asyncio.sleep(0.01)
        while True:
            inv = await h.invocation_of(api, spec.taskId)
            if inv.get("last_start_at") and inv["last_start_at"] != before:
                state["attempt_start"] = h.parse_at(inv["last_start_at"])
                state["retries"] = inv.get("retry_count")
                return
            if inv["status"] == "completed":
                raise AssertionError(f"{how}: the run completed before its new attempt was seen: {before} {inv}")
            await asyncio.sleep(0.02)

    task = asyncio.create_task(interrupt())
    starts = asyncio.create_task(attempt_start())
    events = await h.follow(service, spec.taskId, interval=0, on_event=on_event, timeout=300)
    await task
    await starts
    assert events[-1]["status"] == "succeeded", events[-1]
    inv = await h.invocation_of(api, spec.taskId)
    entries = await h.journal(api, inv["id"])
    first_new = next(e for e in entries if e["index"] >= state["journal"])
    server = (h.parse_at(first_new["appended_at"]) - state["attempt_start"]) * 1e3
    client = state["next"] * 1e3
    if how == "kill":  # the killed `sleep 1` ran again before anything new
        server -= SLEEP_S * 1e3
        client -= SLEEP_S * 1e3
    commands = sum(1 for e in events if e["kind"] == "tool" and e["title"].startswith("run_command"))
    assert commands == 1, f"{commands} run_command events"
    return {
        "journal": state["journal"],
        "client": client,
        "server": server,
        "retries": state.get("retries"),
        "title": state.get("next_title"),
        "ran": (ws / marker).read_text().count("ran"),
        "first_new": f"{first_new['entry_type']} {first_new.get('name') or ''}".strip(),
    }


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="journals of ~50 and ~500 entries, 2 repetitions")
    ap.add_argument("--reps", type=int, default=None)
    args = ap.parse_args()
    sizes = [50, 500] if args.quick else [50, 500, 1500]
    reps = args.reps or (2 if args.quick else 3)
    print(f"machine: {h.machine()}\ncommand: {h.command_line()}\n", flush=True)
    ws = h.make_workspace()
    results: dict[tuple[int, str], list[dict]] = {}
    with h.private_runtime() as st:
        print(f"runtime up in {st['upSeconds']:.2f} s (state dir {st['stateDir']})", flush=True)
        service = h.task_service(st)
        await h.follow(service, await service.start(h.make_spec(h.read_plan(2), ws)), interval=0)  # warm-up
        for r in range(reps):
            for size in sizes:
                for how in ("pause", "kill"):
                    reads = max(1, round((size - 10) / ENTRIES_PER_READ))
                    res = await one(service, ws, reads, how)
                    results.setdefault((size, how), []).append(res)
                    st["remember"](h.runtime_pids())
                    print(
                        f"  rep {r + 1}, ~{size} entries ({reads} reads), {how}: journal {res['journal']} "
                        f"entries, client {res['client']:.0f} ms, server {res['server']:.0f} ms, "
                        f"retries {res['retries']}, command ran {res['ran']}x, first new entry {res['first_new']}, "
                        f"next event: {res['title']}",
                        flush=True,
                    )
        await service.api.aclose()
    print(f"\n## Resume with a long journal (medians of {reps}, ms)\n")
    rows = []
    for (size, how), rs in results.items():
        rows.append(
            [
                f"~{size}",
                h.median([x["journal"] for x in rs]),
                2 * round((size - 10) / ENTRIES_PER_READ) + 1,
                how,
                h.median([x["client"] for x in rs]),
                h.median([x["server"] for x in rs]),
                f"{min(x['client'] for x in rs):.0f}-{max(x['client'] for x in rs):.0f}",
            ]
        )
    print(
        h.table(
            [
                "journal",
                "entries",
                "steps before",
                "ended by",
                "resume/kill → next new event (client)",
                "attempt start → first new entry (Restate)",
                "range client",
            ],
            rows,
        )
    )
    print("\n(kill rows: minus the 1 s `sleep 1` that re-runs; pause rows: resume call → next event)")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
