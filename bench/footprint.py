"""Footprint: memory of the runtime's processes and `dals lsp` at rest and under load, and the disk
the Restate data dir uses per 1,000 finished tasks.

    .venv/bin/python bench/footprint.py [--quick]
    .venv/bin/python bench/footprint.py --at-rest [--reps R] [--before PYTHONPATH]

`--at-rest`: only the memory at rest with a `dals lsp` connected and one task done, per process
and in total, as PSS (what the processes take together: a page shared by several, as a forked
worker shares the fork server's, is counted once over them) and as RSS (each process's resident
pages, shared ones counted in every process that maps them), median of R fresh runtimes; with `--before DIR` (a checkout's `server/`, e.g.
`git archive COMMIT server | tar -x -C DIR`), runtimes of that code alternate with this one's.

Memory (VmRSS from /proc, sampled every 0.2 s): after `dals up` with nothing run yet; with a
`dals lsp` connected and one warm-up task done; the peak while 20 tasks of 20 read_file steps run
(started from the LSP client); and at rest again 5 s after they end. The fork server is shown too
(it is part of the runtime's cost).
Disk: bytes under `$DALS_STATE_DIR/restate`, both allocated (`du`) and apparent (`du
--apparent-size`: RocksDB preallocates ~200 MiB of write-ahead logs at start, so the allocated
size only moves in big jumps), before and after K short tasks (3 read_file steps each: 7
journaled steps, about 50 journal entries), started 20 at a time with `TaskService.start` and
followed to their final event; measured 5 s after the last one, then extrapolated linearly to
1,000 tasks. Nothing is purged: finished invocations keep their journal and each task object
keeps its summary and events.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
import resource_use as ru  # noqa: E402

LOAD_TASKS = 20
LOAD_READS = 20
SHORT_READS = 3


def procs_of(pids: dict, lsp_pid: int | None = None) -> dict[str, ru.Pids]:
    """The runtime's processes; `dals lsp` is the process the editor spawned and, when the fork
    server runs it, the forked session that does the work (counted together)."""
    zygote = pids.get("zygote", {}).get("pid")
    return {
        "restate-server": pids["restate"]["pid"],
        "fork server": zygote,
        "worker": pids["worker"]["pid"],
        "supervisor": pids["supervisor"]["pid"],
        "dals lsp": (lsp_pid, *ru.children_named(zygote, "dals lsp")) if lsp_pid else None,
    }


async def short_tasks(service, ws: Path, k: int, batch: int = 20) -> float:
    t0 = time.monotonic()
    for i in range(0, k, batch):
        ids = [await service.start(h.make_spec(h.read_plan(SHORT_READS), ws)) for _ in range(min(batch, k - i))]
        done = await asyncio.gather(*(h.follow(service, t, interval=0, timeout=600) for t in ids))
        assert all(evs[-1]["status"] == "succeeded" for evs in done)
    return time.monotonic() - t0


async def at_rest_once(ws: Path, pythonpath: str | None) -> dict[str, dict[str, float]]:
    """PSS and RSS MiB of each process (and the totals) at rest, `dals lsp` connected, one task done."""
    import os

    if pythonpath:
        os.environ["PYTHONPATH"] = pythonpath  # the runtime's processes and `dals lsp` run that code
    try:
        with h.private_runtime():
            async with h.lsp_client(ws) as client:
                await client.wait_finished(
                    (await client.command("dals.startTask", {"prompt": h.read_plan(2)}))["taskId"], timeout=300
                )
                await asyncio.sleep(3.0)
                procs = procs_of(h.runtime_pids(), client.pid)
                got = {
                    "PSS": {n: ru.pss_mb(p) or 0.0 for n, p in procs.items()},
                    "RSS": {n: ru.rss_mb(p) or 0.0 for n, p in procs.items()},
                }
    finally:
        os.environ.pop("PYTHONPATH", None)
    for sizes in got.values():
        sizes["total"] = sum(sizes.values())
    return got


async def at_rest(reps: int, before: str | None) -> int:
    print(f"machine: {h.machine()}\ncommand: {h.command_line()}\n", flush=True)
    ws = h.make_workspace()
    variants = {"before": before, "after": None} if before else {"now": None}
    runs: dict[str, list[dict[str, dict[str, float]]]] = {v: [] for v in variants}
    for r in range(reps):
        for name in list(variants) if r % 2 == 0 else list(variants)[::-1]:
            runs[name].append(await at_rest_once(ws, variants[name]))
            for kind, sizes in runs[name][-1].items():
                print(
                    f"  rep {r + 1} {name} {kind}: " + ", ".join(f"{k} {v:.0f}" for k, v in sizes.items()), flush=True
                )
    for kind in ("PSS", "RSS"):
        names = list(runs[next(iter(runs))][0][kind])
        print(f"\n## At rest, `dals lsp` connected, one task done ({kind} MiB, median of {reps})\n")
        rows = [[v, *[h.median([x[kind][n] for x in xs]) for n in names]] for v, xs in runs.items()]
        print(h.table(["code", *names], rows))
    return 0


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="K = 100 short tasks (full: 500)")
    ap.add_argument("--tasks", type=int, default=None)
    ap.add_argument("--at-rest", action="store_true", help="only the memory at rest (see above)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--before", default=None, help="PYTHONPATH of the code to compare with (--at-rest)")
    args = ap.parse_args()
    if args.at_rest:
        return await at_rest(args.reps, args.before)
    k = args.tasks or (100 if args.quick else 500)
    print(f"machine: {h.machine()}\ncommand: {h.command_line()}\n", flush=True)
    ws = h.make_workspace()
    rows: list[list] = []
    with h.private_runtime() as st:
        print(f"runtime up in {st['upSeconds']:.2f} s (state dir {st['stateDir']})", flush=True)
        data_dir = Path(st["stateDir"]) / "restate"
        await asyncio.sleep(2.0)
        names = list(procs_of(h.runtime_pids()))
        fresh = {n: ru.rss_mb(p) for n, p in procs_of(h.runtime_pids()).items()}
        rows.append(["after `dals up`, nothing run", *[fresh.get(n) for n in names]])
        disk0 = ru.disk_usage(data_dir)
        async with h.lsp_client(ws) as client:
            await client.wait_finished(
                (await client.command("dals.startTask", {"prompt": h.read_plan(2)}))["taskId"], timeout=300
            )
            await asyncio.sleep(2.0)
            procs = procs_of(h.runtime_pids(), client.pid)
            rows.append(["`dals lsp` connected, 1 task done", *[ru.rss_mb(procs[n]) for n in names]])
            with ru.RssSampler(procs) as rss:
                ids = [
                    (await client.command("dals.startTask", {"prompt": h.read_plan(LOAD_READS)}))["taskId"]
                    for _ in range(LOAD_TASKS)
                ]
                await asyncio.gather(*(client.wait_finished(t, timeout=900) for t in ids))
            rows.append(
                [f"peak, {LOAD_TASKS} tasks of {2 * LOAD_READS + 1} steps running", *[rss.peak.get(n) for n in names]]
            )
            await asyncio.sleep(5.0)
            rows.append(["at rest again, 5 s later", *[ru.rss_mb(procs[n]) for n in names]])
        service = h.task_service(st)
        disk1 = ru.disk_usage(data_dir)
        took = await short_tasks(service, ws, k)
        await asyncio.sleep(5.0)
        disk2 = ru.disk_usage(data_dir)
        entries = await service.api.query(
            "SELECT count(*) AS n FROM sys_journal j JOIN sys_invocation i ON j.id = i.id "
            "WHERE i.target_service_name = 'AgentTask' AND i.target_handler_name = 'run'"
        )
        invocations = await service.api.query(
            "SELECT target_service_name AS svc, target_handler_name AS handler, status, count(*) AS n, "
            "sum(journal_size) AS entries FROM sys_invocation GROUP BY target_service_name, target_handler_name, "
            "status ORDER BY n DESC"
        )
        state_rows = await service.api.query("SELECT count(*) AS n FROM state")
        after = {n: ru.rss_mb(p) for n, p in procs_of(h.runtime_pids()).items()}
        rows.append([f"after {k} more short tasks (no LSP)", *[after.get(n) for n in names]])
        await service.api.aclose()
    print("\n## Memory (RSS MiB)\n")
    print(h.table(["when", *names], [[r[0], *[v if v is not None else "-" for v in r[1:]]] for r in rows]))
    mib = 2**20
    per_task = [(disk2[i] - disk1[i]) / k for i in (0, 1)]
    print(f"\n## Disk of the Restate data dir ({data_dir.name}/)\n")
    print(
        h.table(
            ["", "allocated MiB", "apparent MiB"],
            [
                ["fresh, after `dals up`", disk0[0] / mib, disk0[1] / mib],
                [f"after the warm-up and {LOAD_TASKS} load tasks", disk1[0] / mib, disk1[1] / mib],
                [f"after {k} more short tasks ({took:.0f} s)", disk2[0] / mib, disk2[1] / mib],
                [
                    f"growth per {2 * LOAD_READS + 1}-step load task (KiB; incl. the 5-step warm-up)",
                    (disk1[0] - disk0[0]) / LOAD_TASKS / 1024,
                    (disk1[1] - disk0[1]) / LOAD_TASKS / 1024,
                ],
                ["growth per short task (KiB)", per_task[0] / 1024, per_task[1] / 1024],
                ["extrapolated per 1,000 short tasks (MiB)", per_task[0] * 1000 / mib, per_task[1] * 1000 / mib],
            ],
        )
    )
    print(
        f"\njournal entries of all AgentTask runs kept: {entries[0]['n'] if entries else '?'}; state rows: "
        f"{state_rows[0]['n'] if state_rows else '?'}; invocations kept, by handler "
        f"({1 + LOAD_TASKS + k} tasks in all):\n"
    )
    print(
        h.table(
            ["service/handler", "status", "invocations", "journal entries"],
            [[f"{r['svc']}/{r['handler']}", r["status"], r["n"], r.get("entries")] for r in invocations],
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
