"""The embedded restate-server's settings side by side: its memory, a task's speed and recovery.

    .venv/bin/python bench/restate_settings.py [--what memory,speed] [--reps R] [--more N]
        [--tasks T] [--kills K] [--variant NAME=RESTATE_KEY=VALUE;RESTATE_KEY=VALUE ...]

Each variant is a set of `RESTATE_*` environment overrides (Restate reads them over its config
file: `RESTATE_LOG_SERVER__ROCKSDB_MEMORY_BUDGET="32 MiB"` is `[log-server]
rocksdb-memory-budget`); restate-server inherits them from the runtime that `dals up` starts.
By default two variants: "before", the settings `runtime/restate_config.py` had before its
memory settings (Restate's own values restored by overrides), and "after", the config as
shipped (no override).

`memory`: one fresh private runtime per variant and repetition, their order flipping every
repetition. Rss and Private_Dirty of restate-server (`/proc/PID/smaps_rollup`: the binary's text
pages are shared with any other restate-server on the machine, so Rss moves with them, and
Private_Dirty is what this process alone holds) at rest, 3 s after one 5-step task; the peak
while 20 tasks of 41 steps run at once (sampled every 0.2 s; all must succeed); 5 s after; with
`--more N`, 5 s after N more short tasks (7 steps each, 20 at a time), as a long session grows.
`speed`: every variant's runtime up at once, the same 2 shared cores for all; T tasks of 65
journaled steps, alternating between the runtimes (start to the final event at a follower, as
`dals lsp` follows; and restate-server's CPU time, utime + stime, for each), then K kills -9 of
restate-server mid-task, alternating, as `bench/recovery.py` does: kill to Restate healthy
again, and to the task's next new event (the killed step, a `sleep 1`, runs again: 1 s of it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
import recovery as rc  # noqa: E402
import resource_use as ru  # noqa: E402

# What restate_config.py set before (Restate's values, with rocksdb-total-memory-size 512 MiB).
BEFORE = {
    "RESTATE_LOG_SERVER__ROCKSDB_MEMORY_BUDGET": "217.6 MiB",
    "RESTATE_DISABLE_PROMETHEUS": "false",
    "RESTATE_WORKER__STORAGE__ROCKSDB_DISABLE_STATISTICS": "false",
    "RESTATE_LOG_SERVER__ROCKSDB_DISABLE_STATISTICS": "false",
    "RESTATE_METADATA_SERVER__ROCKSDB_DISABLE_STATISTICS": "false",
}
LOAD_TASKS, LOAD_READS, SPEED_READS = 20, 20, 32


def variant_arg(value: str) -> tuple[str, dict[str, str]]:
    name, _, rest = value.partition("=")
    env = {}
    for pair in filter(None, rest.split(";")):
        key, sep, val = pair.partition("=")
        if not sep or not key.startswith("RESTATE_"):
            raise argparse.ArgumentTypeError(f"expected NAME=RESTATE_KEY=VALUE;...; got {value!r}")
        env[key] = val
    if not name:
        raise argparse.ArgumentTypeError(f"a variant needs a name: {value!r}")
    return name, env


def smaps_mb(pid: int) -> dict[str, float]:
    """Rss and Private_Dirty of `pid` in MiB, from /proc/PID/smaps_rollup."""
    out: dict[str, float] = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("Rss", "Private_Dirty"):
                out[key] = int(rest.split()[0]) / 1024
    return out


async def memory(service, ws: Path, pid: int, more: int) -> dict[str, float]:
    await asyncio.sleep(3.0)
    got = {f"rest {k}": v for k, v in smaps_mb(pid).items()}
    peak = {"Rss": 0.0, "Private_Dirty": 0.0}
    done = asyncio.Event()

    async def sample() -> None:
        while not done.is_set():
            for k, v in smaps_mb(pid).items():
                peak[k] = max(peak[k], v)
            await asyncio.sleep(0.2)

    sampler = asyncio.create_task(sample())
    ids = [await service.start(h.make_spec(h.read_plan(LOAD_READS), ws)) for _ in range(LOAD_TASKS)]
    finals = await asyncio.gather(*(h.follow(service, t, interval=0, timeout=900) for t in ids))
    done.set()
    await sampler
    failed = [evs[-1] for evs in finals if evs[-1]["status"] != "succeeded"]
    assert not failed, f"{len(failed)} of {LOAD_TASKS} load tasks did not succeed: {failed[0]}"
    got.update({f"peak {k}": v for k, v in peak.items()})
    await asyncio.sleep(5.0)
    got.update({f"after {k}": v for k, v in smaps_mb(pid).items()})
    if more:
        for i in range(0, more, LOAD_TASKS):
            ids = [await service.start(h.make_spec(h.read_plan(3), ws)) for _ in range(min(LOAD_TASKS, more - i))]
            finals = await asyncio.gather(*(h.follow(service, t, interval=0, timeout=900) for t in ids))
            assert all(evs[-1]["status"] == "succeeded" for evs in finals)
        await asyncio.sleep(5.0)
        got.update({f"+{more} {k}": v for k, v in smaps_mb(pid).items()})
    return got


def set_restate_env(env: dict[str, str]) -> None:
    """Only `env`'s RESTATE_* variables in this process's environment (a runtime started now inherits them)."""
    for key in [k for k in os.environ if k.startswith("RESTATE_")]:
        del os.environ[key]
    os.environ.update(env)


async def warm_up(service, ws: Path) -> None:
    task = await service.start(h.make_spec(h.read_plan(2), ws))
    await h.follow(service, task, interval=0, timeout=300)


async def memory_runs(variants: dict[str, dict[str, str]], ws: Path, reps: int, more: int) -> dict[str, list[dict]]:
    """One fresh runtime per variant and repetition, their order flipping every repetition."""
    mems: dict[str, list[dict]] = {n: [] for n in variants}
    for r in range(reps):
        for name in list(variants) if r % 2 == 0 else list(variants)[::-1]:
            set_restate_env(variants[name])
            try:
                with h.private_runtime() as st:
                    service = h.task_service(st)
                    try:
                        await warm_up(service, ws)
                        mems[name].append(await memory(service, ws, h.runtime_pids()["restate"]["pid"], more))
                    finally:
                        await h.close_service(service)
            finally:
                set_restate_env({})
            got = ", ".join(f"{k} {v:.1f}" for k, v in mems[name][-1].items())
            print(f"  memory rep {r + 1} {name} (load {os.getloadavg()[0]:.1f}): {got}", flush=True)
    return mems


async def speed_runs(variants: dict[str, dict[str, str]], ws: Path, tasks: int, kills: int) -> dict[str, dict]:
    """Every variant's runtime up at once; tasks, then kills, alternate between them."""
    out: dict[str, dict[str, list[float]]] = {n: {"wall": [], "cpu": [], "healthy": [], "next": []} for n in variants}
    with contextlib.ExitStack() as stack:
        runtimes = {}
        for name, env in variants.items():
            set_restate_env(env)
            try:
                st = stack.enter_context(h.private_runtime())
            finally:
                set_restate_env({})
            runtimes[name] = (st, h.task_service(st))
        try:
            for st, service in runtimes.values():
                h.use_runtime(st)
                await warm_up(service, ws)
            for r in range(tasks):
                for name in list(runtimes) if r % 2 == 0 else list(runtimes)[::-1]:
                    st, service = runtimes[name]
                    h.use_runtime(st)
                    pid = h.runtime_pids()["restate"]["pid"]
                    cpu0, t0 = ru.cpu_seconds(pid), time.monotonic()
                    task = await service.start(h.make_spec(h.read_plan(SPEED_READS), ws))
                    events = await h.follow(service, task, interval=0, timeout=300)
                    assert events[-1]["status"] == "succeeded", events[-1]
                    out[name]["wall"].append(time.monotonic() - t0)
                    out[name]["cpu"].append(ru.cpu_seconds(pid) - cpu0)
                print(
                    f"  task {r + 1}: " + ", ".join(f"{n} {d['wall'][-1] * 1e3:.0f} ms" for n, d in out.items()),
                    flush=True,
                )
            for r in range(kills):
                for name in list(runtimes) if r % 2 == 0 else list(runtimes)[::-1]:
                    st, service = runtimes[name]
                    h.use_runtime(st)
                    res = await rc.one_kill(service, "restate", ws, st["restate"]["ingress"])
                    st["remember"]({"restate": {"pid": rc.runtime_pids()["restate"]}})
                    out[name]["healthy"].append(res["healthy"])
                    out[name]["next"].append(res["next"])
                print(
                    f"  kill {r + 1}: " + ", ".join(f"{n} {d['next'][-1] * 1e3:.0f} ms" for n, d in out.items()),
                    flush=True,
                )
        finally:
            for _, service in runtimes.values():
                await h.close_service(service)
    return out


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3, help="memory: fresh runtimes per variant")
    ap.add_argument("--tasks", type=int, default=9, help="speed: 65-step tasks per variant")
    ap.add_argument("--kills", type=int, default=4, help="speed: kills of restate-server per variant")
    ap.add_argument("--what", default="memory,speed", help="memory, speed or both (comma-separated)")
    ap.add_argument("--more", type=int, default=0, help="memory: then N short tasks (7 steps), 20 at a time")
    ap.add_argument("--variant", type=variant_arg, action="append", help="NAME=RESTATE_KEY=VALUE;... (repeatable)")
    args = ap.parse_args()
    what = set(args.what.split(","))
    variants = dict(args.variant or [("before", BEFORE), ("after", {})])
    print(f"machine: {h.machine()}\ncommand: {h.command_line()}\n", flush=True)
    ws = h.make_workspace()
    if "memory" in what:
        mems = await memory_runs(variants, ws, args.reps, args.more)
        keys = list(mems[next(iter(mems))][0])
        print(f"\n## restate-server memory (MiB, median of {args.reps} runtimes each)\n")
        rows = [[n, *[h.median([m[k] for m in ms]) for k in keys]] for n, ms in mems.items()]
        print(h.table(["variant", *keys], rows), flush=True)
    if "speed" in what:
        spds = await speed_runs(variants, ws, args.tasks, args.kills)
        print(f"\n## Speed (ms, medians; runtimes up at once, {args.tasks} tasks and {args.kills} kills each)\n")
        rows = []
        for n, d in spds.items():
            rng = f"{min(d['next']) * 1e3:.0f}-{max(d['next']) * 1e3:.0f}" if d["next"] else ""
            rows.append([n, *[h.median(d[k]) * 1e3 for k in ("wall", "cpu", "healthy", "next")], rng])
        heads = ["65-step task wall", "restate-server CPU per task", "kill -9 restate → healthy", "→ next new event"]
        print(h.table(["variant", *heads, "range of next event"], rows))
    for n, env in variants.items():
        print(f"\n{n}: " + ("; ".join(f"{k}={v}" for k, v in env.items()) or "the config as shipped"))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
