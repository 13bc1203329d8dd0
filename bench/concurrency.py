"""Concurrency: 1, 10 and 50 tasks of 20 read_file steps at once, through a real LSP client.

    .venv/bin/python bench/concurrency.py [--quick]

Each task is a plan of 20 `/read_file` lines for the offline model: 41 journaled steps (21 model
requests, 20 tool calls). All tasks of a level are started with `dals.startTask` from one
pytest-lsp client over stdio (so `dals lsp` follows them all, as an editor would), and the level
ends when the client has every task's final event. Reported per level:
  - throughput: journaled steps (model + tool events) / wall time from the first startTask to the
    last final event at the client;
  - step time: the gap between consecutive events' `at` (written by the worker) before each
    model or tool event, p50 / p95 over all tasks;
  - task time: startTask → final event at the client, p50 / max;
  - RSS (peak, sampled every 0.2 s) and CPU seconds used during the level, per process:
    restate-server, the worker, `dals lsp` (and the supervisor's idle standby worker).
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

READS = 20
TARGET_STEPS_PER_S = 300.0


async def level(client, n: int, procs: dict[str, int]) -> dict:
    prompt = h.read_plan(READS)
    cpu0 = {k: h.cpu_seconds(p) for k, p in procs.items()}
    with h.RssSampler(procs) as rss:
        t0 = time.time()
        starts: dict[str, float] = {}

        async def start() -> str:
            task_id = (await client.command("dals.startTask", {"prompt": prompt}))["taskId"]
            starts[task_id] = time.time()
            return task_id

        ids = await asyncio.gather(*(start() for _ in range(n)))
        await asyncio.gather(*(client.wait_finished(t, timeout=900) for t in ids))
    cpu = {k: h.cpu_seconds(p) - cpu0[k] for k, p in procs.items()}
    steps, gaps, task_s, ends = 0, [], [], []
    failed = 0
    for task_id in ids:
        events = client.events[task_id]
        failed += events[-1]["status"] != "succeeded"
        ats = [h.parse_at(e["at"]) for e in events]
        for prev, e, at in zip(ats, events[1:], ats[1:]):
            if e["kind"] in ("model", "tool"):
                gaps.append((at - prev) * 1e3)
        steps += sum(1 for e in events if e["kind"] in ("model", "tool"))
        ends.append(events[-1]["receivedAt"])
        task_s.append(events[-1]["receivedAt"] - t0)
    wall = max(ends) - t0
    return {"n": n, "steps": steps, "wall": wall, "rate": steps / wall, "gap50": h.pct(gaps, 50),
            "gap95": h.pct(gaps, 95), "task50": h.median(task_s), "taskmax": max(task_s), "failed": failed,
            "rss": dict(rss.peak), "cpu": cpu}


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one round of 1, 10, 50 (the full mode runs two)")
    ap.add_argument("--levels", default="1,10,50")
    ap.add_argument("--rounds", type=int, default=None)
    args = ap.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    rounds = args.rounds or (1 if args.quick else 2)
    print(f"machine: {h.machine()}\ncommand: {h.command_line()}\n", flush=True)
    ws = h.make_workspace()
    results: dict[int, list[dict]] = {n: [] for n in levels}
    with h.private_runtime() as st:
        print(f"runtime up in {st['upSeconds']:.2f} s (state dir {st['stateDir']})", flush=True)
        async with h.lsp_client(ws) as client:
            await client.wait_finished((await client.command(
                "dals.startTask", {"prompt": h.read_plan(2)}))["taskId"], timeout=300)  # warm-up
            pids = h.runtime_pids()
            procs = {"restate-server": pids["restate"]["pid"], "worker": pids["worker"]["pid"],
                     "dals lsp": client.pid, "standby worker": pids["standby"]["pid"]}
            await asyncio.sleep(1.0)
            at_rest = {k: h.rss_mb(p) for k, p in procs.items()}
            for r in range(rounds):
                for n in levels:
                    res = await level(client, n, procs)
                    results[n].append(res)
                    print(f"  round {r + 1}, {n} at once: {res['steps']} steps in {res['wall']:.2f} s = "
                          f"{res['rate']:.1f} steps/s, step p50 {res['gap50']:.0f} ms p95 {res['gap95']:.0f} ms, "
                          f"failed {res['failed']}", flush=True)
    print(f"\n## Concurrent {2 * READS + 1}-step tasks (median of {rounds} rounds)\n")
    rows = []
    for n in levels:
        rs = results[n]
        rows.append([n, rs[0]["steps"], h.median([x["wall"] for x in rs]), h.median([x["rate"] for x in rs]),
                     h.median([x["gap50"] for x in rs]), h.median([x["gap95"] for x in rs]),
                     h.median([x["task50"] for x in rs]), h.median([x["taskmax"] for x in rs]),
                     sum(x["failed"] for x in rs)])
    print(h.table(["tasks at once", "journaled steps", "wall s", "steps/s", "step p50 ms", "step p95 ms",
                   "task p50 s", "task max s", "failed"], rows))
    print("\n## Memory (RSS MiB: at rest after a warm-up task, then the peak during each level) and CPU s used\n")
    names = list(procs)
    rows = [["at rest", *[at_rest.get(k) or float("nan") for k in names]]]
    for n in levels:
        rs = results[n]
        rows.append([f"peak, {n} at once", *[max(x["rss"].get(k, float("nan")) for x in rs) for k in names]])
    for n in levels:
        rs = results[n]
        rows.append([f"CPU s, {n} at once", *[h.median([x["cpu"][k] for x in rs]) for k in names]])
    print(h.table(["", *names], rows))
    best = h.median([x["rate"] for x in results[levels[-1]]])
    print(f"\ntarget >= {TARGET_STEPS_PER_S:.0f} steps/s at {levels[-1]}: "
          f"{'met' if best >= TARGET_STEPS_PER_S else 'NOT met'} ({best:.1f}); all finished: "
          f"{all(x['failed'] == 0 for rs in results.values() for x in rs)}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
