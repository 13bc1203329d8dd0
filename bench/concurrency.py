"""Concurrency: 1, 10 and 50 tasks of 20 read_file steps at once, through a real LSP client.

    .venv/bin/python bench/concurrency.py [--quick] [--levels 1,10,50] [--worker-processes 1,2]

Each task is a plan of 20 `/read_file` lines for the offline model: 41 journaled steps (21 model
requests, 20 tool calls). All tasks of a level are started with `dals.startTask` from one
pytest-lsp client over stdio (so `dals lsp` follows them all, as an editor would), and the level
ends when the client has every task's final event. Each level runs once per runtime variant,
with one client and `dals lsp` per variant (the worker wakes it with loopback datagrams that
carry the writes: `hint`, the one way for a worker on this machine; the fallback through Restate
for workers elsewhere is measured by `step_cost.py --wakeup feed,hint`), the variants one after
the other (their order flips every level). Reported per level and variant:
  - throughput: journaled steps (model + tool events) / wall time from the first startTask to the
    last final event at the client;
  - step time: the gap between consecutive events' `at` (written by the worker) before each
    model or tool event, p50 / p95 over all tasks;
  - task time: startTask → final event at the client, p50 / max;
  - RSS (peak, sampled every 0.2 s) and CPU seconds used during the level, per process:
    restate-server, the worker, the mode's `dals lsp` (and the runtime's fork server);
    CPU ms per journaled step of the first three.
The reference (on unless `--no-memory`): the same plans run by the plain pydantic-ai agent in
memory (`in_memory.py`: no Restate, no LSP), spread over as many processes as each runtime has
worker processes, in the same rounds, interleaved with the durable runs; reported as steps/s and
the ratio durable / in memory, the throughput counterpart of `step_cost.py`'s ratio.
`--worker-processes 1,2` runs one runtime per value (`DALS_WORKER_PROCESSES`), all up at once, and
each mode on each, interleaved level by level like the modes ("hint x2" = hint on the runtime with
two worker processes; its "worker" figures are both processes together, RSS summed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
import in_memory  # noqa: E402
import resource_use as ru  # noqa: E402

READS = 20
TARGET_STEPS_PER_S = 300.0


async def level(client, n: int, procs: dict[str, int]) -> dict:
    prompt = h.read_plan(READS)
    cpu0 = {k: ru.cpu_seconds(p) for k, p in procs.items()}
    with ru.RssSampler(procs) as rss:
        t0 = time.time()
        starts: dict[str, float] = {}

        async def start() -> str:
            task_id = (await client.command("dals.startTask", {"prompt": prompt}))["taskId"]
            starts[task_id] = time.time()
            return task_id

        ids = await asyncio.gather(*(start() for _ in range(n)))
        await asyncio.gather(*(client.wait_finished(t, timeout=900) for t in ids))
    cpu = {k: ru.cpu_seconds(p) - cpu0[k] for k, p in procs.items()}
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
    return {
        "n": n,
        "steps": steps,
        "wall": wall,
        "rate": steps / wall,
        "gap50": h.pct(gaps, 50),
        "gap95": h.pct(gaps, 95),
        "task50": h.median(task_s),
        "taskmax": max(task_s),
        "failed": failed,
        "rss": dict(rss.peak),
        "cpu": cpu,
    }


BUSY = ("restate-server", "worker", "dals lsp")  # the processes whose CPU per step is reported


def cpu_ms_per_step(res: dict, name: str | None = None) -> float:
    return sum(res["cpu"][k] for k in ([name] if name else BUSY)) * 1e3 / res["steps"]


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one round of 1, 10, 25 (the full mode: two of 1, 10, 50)")
    ap.add_argument("--levels", default=None, help="tasks at once, comma-separated (default 1,10,50)")
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument(
        "--worker-processes", default="1", help="DALS_WORKER_PROCESSES of each runtime, comma-separated (default 1)"
    )
    ap.add_argument("--no-memory", dest="memory", action="store_false", help="skip the in-memory reference runs")
    args = ap.parse_args()
    levels = [int(x) for x in (args.levels or ("1,10,25" if args.quick else "1,10,50")).split(",")]
    rounds = args.rounds or (1 if args.quick else 2)
    counts = [int(x) for x in args.worker_processes.split(",")]
    # a variant: a wake-up mode on the runtime with that many worker processes
    variants = {(w if len(counts) == 1 else f"{w} x{c}"): (w, c) for c in counts for w in ["hint"]}
    modes: list[str] = list(variants)
    # the reference: the same plans in memory over as many processes as a runtime's workers
    refs = {f"in memory x{c}": c for c in counts} if args.memory else {}
    print(f"machine: {h.machine()}\ncommand: {h.command_line()}\n", flush=True)
    ws = h.make_workspace()
    results: dict[tuple[int, str], list[dict]] = {(n, w): [] for n in levels for w in [*modes, *refs]}
    at_rest: dict[str, dict] = {}
    with contextlib.ExitStack() as runtimes:
        sts = {}
        for c in counts:
            sts[c] = runtimes.enter_context(h.private_runtime(worker_processes=c))
            print(
                f"runtime with {c} worker process(es) up in {sts[c]['upSeconds']:.2f} s "
                f"(state dir {sts[c]['stateDir']})",
                flush=True,
            )
        async with contextlib.AsyncExitStack() as stack:
            clients, procs = {}, {}
            for v, (w, c) in variants.items():
                h.use_runtime(sts[c])
                clients[v] = client = await stack.enter_async_context(h.lsp_client(ws))
                await client.wait_finished(
                    (await client.command("dals.startTask", {"prompt": h.read_plan(2)}))["taskId"], timeout=300
                )  # warm-up
                pids = h.runtime_pids()
                procs[v] = {
                    "restate-server": pids["restate"]["pid"],
                    "worker": tuple(pids["worker"]["pids"]),
                    "dals lsp": client.pid,
                    "fork server": pids["zygote"]["pid"],
                }
            await asyncio.sleep(1.0)
            at_rest = {w: {k: ru.rss_mb(p) for k, p in procs[w].items()} for w in modes}
            turn = 0
            for r in range(rounds):
                for n in levels:
                    for w in [*modes, *refs] if turn % 2 == 0 else [*modes, *refs][::-1]:
                        if w in refs:
                            res = await asyncio.to_thread(in_memory.level, n, refs[w], READS)
                            results[(n, w)].append(res)
                            print(
                                f"  round {r + 1}, {n} at once, {w}: {res['steps']} steps in {res['wall']:.2f} s = "
                                f"{res['rate']:.1f} steps/s, CPU {res['cpu'] * 1e3 / res['steps']:.1f} ms/step",
                                flush=True,
                            )
                            continue
                        res = await level(clients[w], n, procs[w])
                        results[(n, w)].append(res)
                        print(
                            f"  round {r + 1}, {n} at once, {w}: {res['steps']} steps in {res['wall']:.2f} s = "
                            f"{res['rate']:.1f} steps/s, step p50 {res['gap50']:.0f} ms p95 {res['gap95']:.0f} ms, "
                            f"CPU {cpu_ms_per_step(res):.1f} ms/step, failed {res['failed']}",
                            flush=True,
                        )
                    turn += 1
    print(f"\n## Concurrent {2 * READS + 1}-step tasks (median of {rounds} rounds)\n")
    rows = []
    for n in levels:
        for w in modes:
            rs = results[(n, w)]
            rows.append(
                [
                    n,
                    w,
                    rs[0]["steps"],
                    h.median([x["wall"] for x in rs]),
                    h.median([x["rate"] for x in rs]),
                    h.median([x["gap50"] for x in rs]),
                    h.median([x["gap95"] for x in rs]),
                    h.median([x["task50"] for x in rs]),
                    h.median([x["taskmax"] for x in rs]),
                    h.median([cpu_ms_per_step(x) for x in rs]),
                    sum(x["failed"] for x in rs),
                ]
            )
    print(
        h.table(
            [
                "tasks at once",
                "wakeup",
                "journaled steps",
                "wall s",
                "steps/s",
                "step p50 ms",
                "step p95 ms",
                "task p50 s",
                "task max s",
                "CPU ms/step (3 processes)",
                "failed",
            ],
            rows,
        )
    )
    print("\n## CPU ms per journaled step, per process (median of rounds)\n")
    print(
        h.table(
            ["tasks at once", "wakeup", *BUSY, "sum"],
            [
                [
                    n,
                    w,
                    *[h.median([cpu_ms_per_step(x, k) for x in results[(n, w)]]) for k in BUSY],
                    h.median([cpu_ms_per_step(x) for x in results[(n, w)]]),
                ]
                for n in levels
                for w in modes
            ],
        )
    )
    if refs:
        print("\n## Against the same plans in memory (plain pydantic-ai agent, no Restate; median of rounds)\n")
        rows = []
        for n in levels:
            for w, (_, c) in variants.items():
                mem = h.median([x["rate"] for x in results[(n, f"in memory x{c}")]])
                dur = h.median([x["rate"] for x in results[(n, w)]])
                cpu = h.median([x["cpu"] * 1e3 / x["steps"] for x in results[(n, f"in memory x{c}")]])
                rows.append([n, w, c, dur, mem, cpu, h.ratio(mem, dur)])
        print(
            h.table(
                [
                    "tasks at once",
                    "durable",
                    "processes",
                    "steps/s durable",
                    "steps/s in memory",
                    "in-memory CPU ms/step",
                    "ratio memory / durable",
                ],
                rows,
            )
        )
    if sorted(modes) == ["feed", "hint"]:
        print("\n## hint vs feed, same run (ratio = hint / feed)\n")
        rows = []
        for n in levels:
            f, g = results[(n, "feed")], results[(n, "hint")]
            vals = [
                (h.median([x["rate"] for x in f]), h.median([x["rate"] for x in g])),
                (h.median([x["gap95"] for x in f]), h.median([x["gap95"] for x in g])),
                (h.median([cpu_ms_per_step(x) for x in f]), h.median([cpu_ms_per_step(x) for x in g])),
            ]
            rows.append([n, *[v for a, b in vals for v in (a, b, h.ratio(b, a))]])
        print(
            h.table(
                [
                    "tasks at once",
                    "steps/s feed",
                    "steps/s hint",
                    "ratio",
                    "step p95 ms feed",
                    "step p95 ms hint",
                    "ratio",
                    "CPU ms/step feed",
                    "CPU ms/step hint",
                    "ratio",
                ],
                rows,
            )
        )
    print("\n## Memory (RSS MiB: at rest after a warm-up task, then the peak during each level) and CPU s used\n")
    names = ["restate-server", "worker", "dals lsp", "fork server"]
    rows = [[f"at rest ({w}'s dals lsp)", *[at_rest[w].get(k) or float("nan") for k in names]] for w in modes]
    for n in levels:
        for w in modes:
            rows.append(
                [
                    f"peak, {n} at once, {w}",
                    *[max(x["rss"].get(k, float("nan")) for x in results[(n, w)]) for k in names],
                ]
            )
    for n in levels:
        for w in modes:
            rows.append(
                [f"CPU s, {n} at once, {w}", *[h.median([x["cpu"][k] for x in results[(n, w)]]) for k in names]]
            )
    print(h.table(["", *names], rows))
    top = max(levels)  # the target is at the most tasks at once (50 in the full mode)
    for w in modes:
        best = h.median([x["rate"] for x in results[(top, w)]])
        print(
            f"\n{w}: target >= {TARGET_STEPS_PER_S:.0f} steps/s at {top}: "
            f"{h.met(best, TARGET_STEPS_PER_S, at_least=True)} ({best:.1f}); all finished: "
            f"{all(x['failed'] == 0 for (n, m), rs in results.items() if m == w for x in rs)}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
