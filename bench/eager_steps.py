"""Eager steps on and off, side by side: the cost of durability with and without overlapping
Restate's acknowledgement of a step with the handler's own work (`DALS_EAGER_STEPS`).

    .venv/bin/python bench/eager_steps.py [--quick] [--sizes 20,60] [--reps R]

Two runtimes up at once, one started with `DALS_EAGER_STEPS=0` (every step waits for Restate's
acknowledgement before the handler goes on, the way before) and one with the default (eager).
Each repetition runs the same N-step offline plan (`/read_file` lines, 2N+1 journaled steps) in
memory and then on each runtime (their order flips every repetition), followed as `dals lsp`
does (hint pushes); reported: medians of wall ms per step (start → final event at the follower),
the ratio to the in-memory run, and CPU ms per step of the worker and restate-server
(`bench/step_cost.py` measures the same way; this script only adds the "off" runtime).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
import step_cost as sc  # noqa: E402

VARIANTS = (("off", "0"), ("eager", "1"))  # DALS_EAGER_STEPS of each runtime


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="N = 60 only, 5 repetitions")
    ap.add_argument("--sizes", default=None, help="comma-separated N (default 20,60,200; --quick 60)")
    ap.add_argument("--reps", type=int, default=None)
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")] if args.sizes else ([60] if args.quick else [20, 60, 200])
    reps = args.reps or (5 if args.quick else 7)
    print(f"machine: {h.machine()}\ncommand: {h.command_line()}\n", flush=True)
    ws = h.make_workspace()
    rows = []
    with contextlib.ExitStack() as stack:
        runtimes = {}
        for name, value in VARIANTS:
            os.environ["DALS_EAGER_STEPS"] = value  # read by the worker `dals up` starts
            st = stack.enter_context(h.private_runtime())
            pids = h.runtime_pids()
            runtimes[name] = (
                st,
                h.task_service(st),
                {"worker": pids["worker"]["pid"], "restate": pids["restate"]["pid"], "self": None},
            )
        os.environ.pop("DALS_EAGER_STEPS")
        await sc.run_in_memory(h.read_plan(3), ws)
        for st, service, procs in runtimes.values():  # warm every path once
            h.use_runtime(st)
            await sc.run_durable(service, h.read_plan(3), ws, "hint", procs)
        for n in sizes:
            prompt, steps = h.read_plan(n), 2 * n + 1
            mem: list[float] = []
            runs: dict[str, list[dict]] = {name: [] for name in runtimes}
            for r in range(reps):
                mem.append(await sc.run_in_memory(prompt, ws))
                line = [f"  N={n} rep {r + 1}: memory {mem[-1] * 1e3 / steps:.2f} ms/step"]
                for name in list(runtimes) if r % 2 == 0 else list(runtimes)[::-1]:
                    st, service, procs = runtimes[name]
                    h.use_runtime(st)
                    runs[name].append(await sc.run_durable(service, prompt, ws, "hint", procs))
                    assert runs[name][-1]["count"] >= 2 * n + 3, runs[name][-1]["count"]
                    line.append(f"{name} {runs[name][-1]['wall'] * 1e3 / steps:.2f}")
                print(", ".join(line), flush=True)
            a = h.median(mem) * 1e3 / steps
            for name, xs in runs.items():
                wall = sc.med(xs, "wall", steps)
                rows.append(
                    [
                        n,
                        name,
                        a,
                        wall,
                        wall / a,
                        sc.med(xs, "cpu:worker", steps),
                        sc.med(xs, "cpu:restate", steps),
                        h.median([x["gap_model"] for x in xs]),
                        h.median([x["gap_tool"] for x in xs]),
                    ]
                )
        for _, service, _ in runtimes.values():
            await h.close_service(service)
    print(f"\n## Eager steps off and on (medians of {reps} interleaved repetitions)\n")
    print(
        h.table(
            [
                "N",
                "eager steps",
                "memory ms/step",
                "durable wall ms/step",
                "ratio b/a",
                "worker CPU ms/step",
                "restate CPU ms/step",
                "model step ms (worker)",
                "tool step ms (worker)",
            ],
            rows,
        )
    )
    for n in sizes:
        got = {r[1]: r for r in rows if r[0] == n}
        print(
            f"\nN={n}: eager/off wall {got['eager'][3] / got['off'][3]:.2f}; ratio b/a {got['eager'][4]:.2f} "
            f"({h.met(got['eager'][4], 2.0)} ≤ 2.0) against {got['off'][4]:.2f} off"
        )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
