"""The reference for concurrency.py: the same plans run by the plain pydantic-ai agent in memory.

    .venv/bin/python bench/in_memory.py --tasks 50 [--processes 2] [--reads 20]

No Restate, no LSP, no journal: `step_cost.run_in_memory` (the agent DALS runs, on the offline
model) for `--tasks` plans at once, spread over `--processes` fresh Python processes (each warmed
up by a short plan first; all start together on a line from this one). What it reports is the
most that many worker processes could do on this machine if durability cost nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402


def level(tasks: int, processes: int = 1, reads: int = 20) -> dict:
    """Run `tasks` plans of `reads` reads at once over `processes` processes; steps, wall, CPU s."""
    shares = [tasks // processes + (i < tasks % processes) for i in range(processes)]
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--child", str(k), "--reads", str(reads)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for k in shares
        if k
    ]
    try:
        for p in procs:
            if p.stdout.readline().strip() != "ready":
                raise RuntimeError("an in-memory child failed to start")
        t0 = time.time()
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        results = [json.loads(p.stdout.readline()) for p in procs]
    finally:
        for p in procs:
            p.kill()
            p.wait()
    steps = sum(r["steps"] for r in results)
    wall = max(r["end"] for r in results) - t0
    return {"n": tasks, "steps": steps, "wall": wall, "rate": steps / wall, "cpu": sum(r["cpu"] for r in results)}


async def _child(tasks: int, reads: int) -> None:
    import step_cost

    ws = h.make_workspace()
    await step_cost.run_in_memory(h.read_plan(2), ws)  # warm-up: imports and first-use costs
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    c0 = time.process_time()
    await asyncio.gather(*(step_cost.run_in_memory(h.read_plan(reads), ws) for _ in range(tasks)))
    cpu = time.process_time() - c0
    print(json.dumps({"steps": (2 * reads + 1) * tasks, "end": time.time(), "cpu": cpu}), flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=50)
    ap.add_argument("--processes", type=int, default=1)
    ap.add_argument("--reads", type=int, default=20)
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        asyncio.run(_child(args.child, args.reads))
        return 0
    res = level(args.tasks, args.processes, args.reads)
    print(
        f"in memory, {args.tasks} at once over {args.processes} process(es): {res['steps']} steps in "
        f"{res['wall']:.2f} s = {res['rate']:.1f} steps/s, CPU {res['cpu'] * 1e3 / res['steps']:.2f} ms/step"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
