"""The embedded restate-server's settings side by side: its memory, a task's speed and recovery.

    .venv/bin/python bench/restate_settings.py [--reps R] [--what memory,speed]
        [--variant NAME=KEY=VALUE;KEY=VALUE ...]

Each variant is a set of `RESTATE_*` environment overrides (Restate reads them over its config
file: `RESTATE_LOG_SERVER__ROCKSDB_MEMORY_BUDGET="32 MiB"` is `[log-server]
rocksdb-memory-budget`); restate-server inherits them from the runtime that `dals up` starts.
By default two variants: "before", the settings `runtime/restate_config.py` had before the
memory settings (Restate's own values restored by overrides), and "after", the config as
shipped (no override). Each repetition starts one fresh private runtime per variant, their order
flipping every repetition, so the shared machine hits all alike.

`memory`: Rss and Private_Dirty of restate-server (`/proc/PID/smaps_rollup`: the binary's text
pages are shared with any other restate-server on the machine, so Rss moves with them and
Private_Dirty is what this process alone holds) at rest, 3 s after one 5-step task; the peak
while 20 tasks of 41 steps run at once (sampled every 0.2 s; all must succeed); 5 s after.
`speed`: wall time of 3 tasks of 65 journaled steps one after the other (start to the final
event at a follower, as `dals lsp` follows) and restate-server's CPU time (utime + stime) for
each, and 2 kills -9 of restate-server mid-task, as
`bench/recovery.py` does: kill to Restate healthy again, and to the task's next new event (the
killed step, a `sleep 1`, runs again, so that includes 1 s).
"""

from __future__ import annotations

import argparse
import asyncio
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


async def memory(service, ws: Path, pid: int) -> dict[str, float]:
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
    return got


async def speed(service, ws: Path, st: dict) -> dict[str, list[float]]:
    walls, cpus = [], []
    pid = h.runtime_pids()["restate"]["pid"]
    for _ in range(3):
        cpu0, t0 = ru.cpu_seconds(pid), time.monotonic()
        task = await service.start(h.make_spec(h.read_plan(SPEED_READS), ws))
        events = await h.follow(service, task, interval=0, timeout=300)
        assert events[-1]["status"] == "succeeded", events[-1]
        walls.append(time.monotonic() - t0)
        cpus.append(ru.cpu_seconds(pid) - cpu0)
    healthy, nxt = [], []
    for _ in range(2):
        res = await rc.one_kill(service, "restate", ws, st["restate"]["ingress"])
        st["remember"]({"restate": {"pid": rc.runtime_pids()["restate"]}})
        healthy.append(res["healthy"])
        nxt.append(res["next"])
    return {"wall": walls, "cpu": cpus, "healthy": healthy, "next": nxt}


async def one_runtime(ws: Path, env: dict[str, str], what: set[str]) -> tuple[dict, dict]:
    for key in [k for k in os.environ if k.startswith("RESTATE_")]:
        del os.environ[key]
    os.environ.update(env)
    try:
        with h.private_runtime() as st:
            await h.wait_standby_warm()
            service = h.task_service(st)
            try:
                warm = await service.start(h.make_spec(h.read_plan(2), ws))
                await h.follow(service, warm, interval=0, timeout=300)
                mem = await memory(service, ws, h.runtime_pids()["restate"]["pid"]) if "memory" in what else {}
                spd = await speed(service, ws, st) if "speed" in what else {}
            finally:
                await h.close_service(service)
    finally:
        for key in env:
            os.environ.pop(key, None)
    return mem, spd


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--what", default="memory,speed", help="memory, speed or both (comma-separated)")
    ap.add_argument("--variant", type=variant_arg, action="append", help="NAME=RESTATE_KEY=VALUE;... (repeatable)")
    args = ap.parse_args()
    what = set(args.what.split(","))
    variants = dict(args.variant or [("before", BEFORE), ("after", {})])
    print(f"machine: {h.machine()}\ncommand: {h.command_line()}\n", flush=True)
    ws = h.make_workspace()
    mems: dict[str, list[dict]] = {n: [] for n in variants}
    spds: dict[str, dict[str, list[float]]] = {n: {"wall": [], "cpu": [], "healthy": [], "next": []} for n in variants}
    for r in range(args.reps):
        for name in list(variants) if r % 2 == 0 else list(variants)[::-1]:
            mem, spd = await one_runtime(ws, variants[name], what)
            mems[name].append(mem)
            for k, v in spd.items():
                spds[name][k] += v
            line = ", ".join(f"{k} {v:.1f}" for k, v in mem.items())
            line += "".join(f"; {k} " + " ".join(f"{x * 1e3:.0f}" for x in v) for k, v in spd.items())
            print(f"  rep {r + 1} {name} ({os.getloadavg()[0]:.1f} load): {line}", flush=True)
    if "memory" in what:
        keys = list(mems[next(iter(mems))][0])
        print(f"\n## restate-server memory (MiB, median of {args.reps})\n")
        print(
            h.table(["variant", *keys], [[n, *[h.median([m[k] for m in ms]) for k in keys]] for n, ms in mems.items()])
        )
    if "speed" in what:
        print(f"\n## Speed (ms, medians; {args.reps} runtimes each)\n")
        rows = []
        for n, s in spds.items():
            rng = f"{min(s['next']) * 1e3:.0f}-{max(s['next']) * 1e3:.0f}"
            row = [h.median(s[k]) * 1e3 for k in ("wall", "cpu", "healthy", "next")]
            rows.append([n, *row, rng])
        heads = ["65-step task wall", "restate-server CPU per task", "kill -9 restate → healthy", "→ next new event"]
        print(h.table(["variant", *heads, "range"], rows))
    for n, env in variants.items():
        print(f"\n{n}: " + ("; ".join(f"{k}={v}" for k, v in env.items()) or "the config as shipped"))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
