"""How fast a task resumes after SIGKILL of the worker or of the Restate server.

    .venv/bin/python bench/recovery.py [--quick] [--reps R]

A task runs a plan of 20 short `/read_file` steps, one `/run_command {"command": "sleep 1"}`, and
20 more reads. The poller (10 ms) sees the `Model: run_command` event, waits 0.3 s (the command
is now sleeping), and SIGKILLs the worker (pid from runtime.json, as `dals status` reads it). It
measures, from the kill:
  - "healthy": the supervisor's replacement answering (worker: new pid + GET /health 200;
    Restate: GET :ingress/restate/health 200), seen by a 10 ms probe;
  - "next event": the first event with a new seq seen by the poller. The killed step was the
    `sleep 1`, which runs again from its start, so this includes 1 s of sleeping; the table also
    shows it minus 1 s.
The same for the Restate server. Separately: the worker's cold boot (`python -m dals worker
--port P` to /health 200) and its import time, outside the supervisor.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from dals.local.endpoints import async_client

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

SLEEP_S = 1.0


def plan() -> str:
    reads = ['/read_file {"path": "a.py"}'] * 20
    return "\n".join(["Benchmark: recover mid-task", *reads, '/run_command {"command": "sleep 1"}', *reads])


def runtime_pids() -> dict:
    from dals.runtime import control

    data = control.layout().read_runtime()
    return {
        "worker": (data.get("worker") or {}).get("pid"),
        "restate": (data.get("restate") or {}).get("pid"),
        "worker_url": (data.get("worker") or {}).get("url"),
    }


async def probe_healthy(part: str, old_pid: int, ingress: str, t_kill: float, out: dict) -> None:
    async with httpx.AsyncClient(timeout=0.5) as http, async_client(ingress, timeout=0.5) as restate:
        while True:
            try:
                if part == "worker":
                    pids = runtime_pids()
                    if pids["worker"] and pids["worker"] != old_pid:
                        if (await http.get(f"{pids['worker_url']}/health")).status_code == 200:
                            break
                else:
                    if (await restate.get("/restate/health")).status_code == 200 and runtime_pids()[
                        "restate"
                    ] != old_pid:
                        break
            except (httpx.HTTPError, OSError):
                pass
            await asyncio.sleep(0.01)
    out["healthy"] = time.monotonic() - t_kill


async def one_kill(service, part: str, ws: Path, ingress: str) -> dict:
    spec = h.make_spec(plan(), ws)
    await service.start(spec)
    state: dict = {}

    def on_event(e: dict) -> None:
        if "t_kill" in state:
            if "next" not in state and e["seq"] > state["last_seq"]:
                state["next"] = e["seenAt"] - state["t_kill"]
                state["next_title"] = e["title"]
        elif e["kind"] == "model" and e["title"] == "Model: run_command":
            state["arm"] = (time.monotonic() + 0.3, e["seq"])

    async def killer() -> None:
        while "arm" not in state:
            await asyncio.sleep(0.005)
        when, seq = state["arm"]
        await asyncio.sleep(max(0.0, when - time.monotonic()))
        pid = runtime_pids()[part]
        state["last_seq"] = seq
        state["t_kill"] = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        await probe_healthy(part, pid, ingress, state["t_kill"], state)

    kill_task = asyncio.create_task(killer())
    events = await h.follow(service, spec.taskId, interval=0.01, on_event=on_event, timeout=180)
    await kill_task
    assert events[-1]["status"] == "succeeded", events[-1]
    replays = sum(1 for e in events if e["kind"] == "tool" and e["title"].startswith("run_command"))
    assert replays == 1, f"{replays} run_command events: a re-run step must not add an event"
    return {
        "healthy": state["healthy"],
        "next": state["next"],
        "title": state["next_title"],
        "events": len(events),
        "command_events": replays,
    }


def worker_boot(reps: int) -> tuple[list[float], float, float]:
    """Cold start of `python -m dals worker --port P` to /health 200, outside any supervisor."""
    from dals.runtime.layout import free_port

    boots: list[float] = []
    for _ in range(reps):
        port = free_port()
        t0 = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "dals", "worker", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/health", timeout=0.5).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None:
                    raise RuntimeError(f"worker exited with {proc.returncode}")
                time.sleep(0.01)
            boots.append(time.monotonic() - t0)
        finally:
            os.kill(proc.pid, signal.SIGINT)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()

    # Import cost alone: the app module vs a bare interpreter.
    def run(code: str) -> float:
        t0 = time.monotonic()
        subprocess.run([sys.executable, "-c", code], check=True)
        return time.monotonic() - t0

    bare = h.median([run("pass") for _ in range(3)])
    app = h.median([run("import dals.durable.app") for _ in range(3)])
    return boots, bare, app


def top_imports(n: int = 8) -> list[tuple[str, float]]:
    """Import time of `import dals.durable.app` by top-level package (sum of self times, -X importtime)."""
    r = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import dals.durable.app"],
        capture_output=True,
        text=True,
        check=True,
    )
    cum: dict[str, int] = {}
    for line in r.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        head, _, name_field = line.split("|")
        package = name_field.strip().split(".")[0]
        cum[package] = cum.get(package, 0) + int(head.split(":")[1])  # self time: sums without double counting
    return sorted(((k, v / 1e3) for k, v in cum.items()), key=lambda kv: -kv[1])[:n]


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 kills of each instead of 5")
    ap.add_argument("--reps", type=int, default=None)
    ap.add_argument("--keep", action="store_true", help="keep the state dir (logs) afterwards")
    args = ap.parse_args()
    reps = args.reps or (3 if args.quick else 5)
    print(f"machine: {h.machine()}\ncommand: {h.command_line()}\n", flush=True)
    ws = h.make_workspace()
    results: dict[str, list[dict]] = {"worker": [], "restate": []}
    with h.private_runtime(keep=args.keep) as st:
        print(f"runtime up in {st['upSeconds']:.2f} s (state dir {st['stateDir']})", flush=True)
        service = h.task_service(st)
        ingress = st["restate"]["ingress"]
        for r in range(reps):
            for part in ("worker", "restate"):  # interleaved
                res = await one_kill(service, part, ws, ingress)
                results[part].append(res)
                st["remember"](
                    {"worker": {"pid": runtime_pids()["worker"]}, "restate": {"pid": runtime_pids()["restate"]}}
                )
                print(
                    f"  kill {part} #{r + 1}: healthy after {res['healthy'] * 1e3:.0f} ms, next new event "
                    f"after {res['next'] * 1e3:.0f} ms ({res['title']}); run_command events "
                    f"{res['command_events']}, {res['events']} events",
                    flush=True,
                )
        await service.api.aclose()
        sup_log = (Path(st["stateDir"]) / "logs" / "supervisor.log").read_text()
    boots, bare, app = worker_boot(reps)
    imports = top_imports()

    print(f"\n## SIGKILL mid-command, {reps} kills each (medians, ms)\n")
    rows = []
    for part in ("worker", "restate"):
        rs = results[part]
        nxt = h.median([x["next"] for x in rs]) * 1e3
        rows.append(
            [
                part,
                h.median([x["healthy"] for x in rs]) * 1e3,
                nxt,
                nxt - SLEEP_S * 1e3,
                f"{min(x['next'] for x in rs) * 1e3:.0f}-{max(x['next'] for x in rs) * 1e3:.0f}",
            ]
        )
    print(
        h.table(
            [
                "killed",
                "kill → replacement healthy",
                "kill → next new event",
                "next new event − 1 s re-run sleep",
                "range next event",
            ],
            rows,
        )
    )
    print(f"\n## Worker cold boot, outside the supervisor ({reps} starts, ms)\n")
    print(
        h.table(
            ["what", "median ms"],
            [
                ["`python -m dals worker --port P` → /health 200", h.median(boots) * 1e3],
                ["`python -c pass`", bare * 1e3],
                ["`python -c 'import dals.durable.app'`", app * 1e3],
            ],
        )
    )
    print("\n## Import time of dals.durable.app by top-level package (-X importtime, sum of self times, ms, one run)\n")
    print(h.table(["package", "ms"], [[k, v] for k, v in imports]))
    restarts = [line for line in sup_log.splitlines() if "restarting" in line or "back as pid" in line]
    print(f"\nsupervisor.log restart lines: {len(restarts)} (timestamps have 1 s resolution)")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
