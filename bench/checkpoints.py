"""Checkpoints: undo of a task that changed 100 files, and fork of a long task → the new task's
first event, through a real `dals lsp` (pytest-lsp client over stdio) on a private runtime with the
offline model.

    .venv/bin/python bench/checkpoints.py [--quick]

- undo: a task of F `write_file` lines over F existing files, then `dals.undoTask`, round trip at
  the client (F journaled revert steps, each file read, hash-checked and written back), R tasks.
- fork: a task of N `run_command true` lines (2N+1 journaled steps), then R forks at its last
  model step with a one-step prompt: the time from sending `dals.forkTask` to the new task's first
  `dals/taskEvent` at the client.
Targets (issue 20): undo of 100 files <= 1 s; fork of a 500-step task → first new event <= 500 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

TARGET_UNDO_MS = 1000.0
TARGET_FORK_MS = 500.0


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="100 files once; a 100-step task forked 3 times")
    ap.add_argument("--files", type=int, default=100)
    ap.add_argument("--lines", type=int, default=None, help="run_command lines of the task to fork")
    ap.add_argument("--rounds", type=int, default=None)
    args = ap.parse_args()
    lines = args.lines or (100 if args.quick else 500)
    rounds = args.rounds or (1 if args.quick else 3)
    print(f"machine: {h.machine()}\ncommand: {h.command_line()}\n", flush=True)
    ws = h.make_workspace()
    undo_ms, fork_ms = [], []
    with h.private_runtime() as st:
        print(f"runtime up in {st['upSeconds']:.2f} s (state dir {st['stateDir']})", flush=True)
        async with h.lsp_client(ws, env=h.lsp_env("hint")) as client:
            for r in range(rounds):
                names = [f"u{r}/f{i:03d}.txt" for i in range(args.files)]
                for n in names:
                    (ws / n).parent.mkdir(parents=True, exist_ok=True)
                    (ws / n).write_text(f"{n} before\n" * 20)
                prompt = "\n".join(
                    [f"Change {args.files} files"]
                    + [f"/write_file {json.dumps({'path': n, 'content': 'after'})}" for n in names]
                )
                task_id = (await client.command("dals.startTask", {"prompt": prompt}))["taskId"]
                await client.wait_finished(task_id, timeout=1200)
                t0 = time.perf_counter()
                got = await client.command("dals.undoTask", {"taskId": task_id})
                undo_ms.append((time.perf_counter() - t0) * 1e3)
                assert len(got["reverted"]) == args.files and not got["skipped"], got
                assert all((ws / n).read_text() == f"{n} before\n" * 20 for n in names)
                print(f"  undo {r + 1}: {args.files} files in {undo_ms[-1]:.0f} ms", flush=True)
            long = "\n".join(["Long task"] + ['/run_command {"command": "true"}'] * lines)
            task_id = (await client.command("dals.startTask", {"prompt": long}))["taskId"]
            await client.wait_finished(task_id, timeout=1800)
            shown = await client.command("dals.showTask", {"taskId": task_id})
            at = max(e["seq"] for e in shown["events"] if e["kind"] == "model")
            print(f"task to fork: {shown['steps']} steps, {len(shown['events'])} events; fork at {at}", flush=True)
            for r in range(rounds + 2):
                sent = time.time()
                new = (
                    await client.command(
                        "dals.forkTask", {"taskId": task_id, "atSeq": at, "prompt": f"Fork {r}\n/list_files {{}}"}
                    )
                )["taskId"]
                evs = await client.wait_event(new, lambda evs: len(evs) > 0, 60)
                fork_ms.append((min(e["receivedAt"] for e in evs) - sent) * 1e3)
                await client.wait_finished(new, timeout=120)
                print(f"  fork {r + 1}: first event {fork_ms[-1]:.0f} ms", flush=True)
    print("\n## Checkpoints (ms)\n")
    print(
        h.table(
            ["measure", "n", "p50 ms", "p95 ms", "max ms"],
            [
                h.summary_row(f"dals.undoTask of a task that changed {args.files} files (round trip)", undo_ms),
                h.summary_row(f"dals.forkTask of a {lines}-step task → its first event at the client", fork_ms),
            ],
        )
    )
    u50, f50 = h.median(undo_ms), h.median(fork_ms)
    print(
        f"\ntarget undo of 100 files <= {TARGET_UNDO_MS:.0f} ms: {h.met(u50, TARGET_UNDO_MS)} (median {u50:.0f} ms); "
        f"fork → first event <= {TARGET_FORK_MS:.0f} ms: {h.met(f50, TARGET_FORK_MS)} (median {f50:.0f} ms)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
