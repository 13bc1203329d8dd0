"""Event latency: from a step's journal entry in Restate to the `dals/taskEvent` at a real LSP client.

    .venv/bin/python bench/event_latency.py [--quick]

Tasks are started with `dals.startTask` from a pytest-lsp client talking to `dals lsp` over
stdio, woken the one way for a worker on this machine ("hint": a loopback datagram that carries
the write, read from `AgentTask/events` only on a gap; the fallback through Restate for workers
elsewhere is measured by `step_cost.py --wakeup feed,hint`). Each `dals/taskEvent` is stamped
with the client's wall clock when it arrives. After the task ends, its journal is read from the admin API
(`sys_journal`) and each event is matched with two entries, by Restate's `appended_at` (ms
resolution, same machine and wall clock as the client):
  - step → client: the completion (`Notification: Run`) of the journaled model request or tool
    call the event describes (model and tool events only): the step is durable from then on;
  - set → client: the event's own `SetState event:NNNNNN` entry (every event): the read path
    (Restate → `dals lsp` → client). The difference, step completion → SetState, is the worker's
    own part (after the step, until its next batch of commands reaches Restate). For feed tasks
    the read path is split at the `TaskFeed/publish` invocation the event's batch sends (its
    `completed_at` in `sys_invocation`): SetState → publish completed (the wake-up), publish
    completed → client (the long-poll returning, `dals lsp` reading `AgentTask/events`,
    JSON-RPC). Several events can share one wake-up, so the parts of a later event in a batch
    overlap. `TaskFeed/publish` keeps no record (no journal or idempotency retention, since
    6ffde54), so these two rows are printed only where `sys_invocation` still has the publish.
    Hint tasks journal no publish and their datagram leaves no trace: no split either.
Two loads, side by side in one run: one task alone, and K tasks at once; each load runs in each
mode, one mode after the other (their order flips every round).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

TARGET_P95_MS = 50.0


async def run_tasks(client, api, n_tasks: int, reads: int) -> dict[str, list[float]]:
    """Start `n_tasks` tasks of `reads` read_file lines at once; latencies (ms) of their events."""
    ids = []
    for _ in range(n_tasks):
        started = await client.command("dals.startTask", {"prompt": h.read_plan(reads)})
        ids.append(started["taskId"])
    await asyncio.gather(*(client.wait_finished(t, timeout=600) for t in ids))
    step_ms: list[float] = []
    set_ms: list[float] = []
    gap_ms: list[float] = []
    wake_ms: list[float] = []  # SetState → TaskFeed/publish completed (readers woken)
    read_ms: list[float] = []  # publish completed → client
    for task_id in ids:
        events = client.events[task_id]
        seqs = [e["seq"] for e in events]
        assert seqs == list(range(1, len(seqs) + 1)), f"gap or duplicate in {task_id}: {seqs}"
        assert events[-1]["status"] == "succeeded", events[-1]
        inv = await h.invocation_of(api, task_id)
        entries = h.event_entries(await h.journal(api, inv["id"]))
        publishes = await h.invocation_times(api, [x["publish"] for x in entries.values() if x["publish"]])
        for e in events:
            got = entries.get(e["seq"])
            assert got, f"no SetState entry for event {e['seq']} of {task_id}"
            set_ms.append((e["receivedAt"] - got["set"]) * 1e3)
            pub = publishes.get(got["publish"])
            if pub:
                wake_ms.append((pub["completed"] - got["set"]) * 1e3)
                read_ms.append((e["receivedAt"] - pub["completed"]) * 1e3)
            if e["kind"] in ("model", "tool") and got["step"]:
                step_ms.append((e["receivedAt"] - got["step"]["at"]) * 1e3)
                gap_ms.append((got["set"] - got["step"]["at"]) * 1e3)
    return {
        "step": step_ms,
        "set": set_ms,
        "gap": gap_ms,
        "wake": wake_ms,
        "read": read_ms,
        "events": sum(len(client.events[t]) for t in ids),
    }


KEYS = ("step", "set", "gap", "wake", "read")


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="40 read_file lines per task, 5 at once, 2 rounds")
    ap.add_argument("--reads", type=int, default=None, help="read_file lines per task")
    ap.add_argument("--together", type=int, default=None, help="tasks at once in the loaded variant")
    ap.add_argument("--rounds", type=int, default=None)
    args = ap.parse_args()
    reads = args.reads or (40 if args.quick else 100)
    together = args.together or (5 if args.quick else 10)
    rounds = args.rounds or (2 if args.quick else 3)
    modes: list[str] = ["hint"]
    print(f"machine: {h.machine()}\ncommand: {h.command_line()}\n", flush=True)
    ws = h.make_workspace()
    loads = (("alone", 1), (f"{together} at once", together))
    acc = {(w, name): {k: [] for k in KEYS} for w in modes for name, _ in loads}
    with h.private_runtime() as st:
        print(f"runtime up in {st['upSeconds']:.2f} s (state dir {st['stateDir']})", flush=True)
        from dals.client.restate_api import RestateApi

        api = RestateApi(st["restate"]["ingress"], st["restate"]["admin"])
        async with contextlib.AsyncExitStack() as stack:
            clients = {w: await stack.enter_async_context(h.lsp_client(ws)) for w in modes}
            for w in modes:
                await run_tasks(clients[w], api, 1, 3)  # warm-up: imports, first invocation
            for r in range(rounds):  # interleaved: alone, then K at once, each in every mode, each round
                for name, k in loads:
                    for w in modes if r % 2 == 0 else modes[::-1]:
                        got = await run_tasks(clients[w], api, k, reads)
                        for key in KEYS:
                            acc[(w, name)][key] += got[key]
                        print(
                            f"  round {r + 1}, {name}, {w}: {got['events']} events, step → client p50 "
                            f"{h.pct(got['step'], 50):.1f} ms p95 {h.pct(got['step'], 95):.1f} ms",
                            flush=True,
                        )
        await api.aclose()
    alone, loaded = "alone", loads[1][0]
    for w in modes:
        a, b = acc[(w, alone)], acc[(w, loaded)]
        print(
            f"\n## Event latency, {w} wake-ups: journal entry → `dals/taskEvent` at the client (tasks of "
            f"{reads} read_file lines = {2 * reads + 1} journaled steps; ms)\n"
        )
        rows = [
            h.summary_row("step completion → client, 1 task", a["step"]),
            h.summary_row(f"step completion → client, {together} tasks at once", b["step"]),
            h.summary_row("event SetState → client, 1 task", a["set"]),
            h.summary_row(f"event SetState → client, {together} tasks at once", b["set"]),
            h.summary_row("(part) step completion → event SetState, 1 task", a["gap"]),
            h.summary_row(f"(part) step completion → event SetState, {together} tasks at once", b["gap"]),
        ]
        if a["wake"] or b["wake"]:
            rows += [
                h.summary_row("(part) SetState → its TaskFeed/publish completed, 1 task", a["wake"]),
                h.summary_row(f"(part) SetState → its TaskFeed/publish completed, {together} at once", b["wake"]),
                h.summary_row("(part) publish completed → client, 1 task", a["read"]),
                h.summary_row(f"(part) publish completed → client, {together} at once", b["read"]),
            ]
        print(h.table(["from", "events", "p50 ms", "p95 ms", "max ms"], rows))
        if w == "feed" and not (a["wake"] or b["wake"]):
            print("\n(no SetState → publish split: Restate kept no record of the TaskFeed/publish invocations)")
        p95 = h.pct(a["step"], 95)
        print(
            f"\n{w}: target p95 <= {TARGET_P95_MS:.0f} ms (step completion → client, 1 task): "
            f"{h.met(p95, TARGET_P95_MS)} ({p95:.1f} ms); ratio p95 loaded/alone "
            f"{h.ratio(h.pct(b['step'], 95), p95):.2f}"
        )
    if sorted(modes) == ["feed", "hint"]:
        print("\n## hint vs feed, same run (ms; ratio = hint / feed)\n")
        rows = []
        for key, what in (
            ("step", "step completion → client"),
            ("set", "event SetState → client"),
            ("gap", "(part) step completion → SetState"),
        ):
            for name in (alone, loaded):
                f, g = acc[("feed", name)][key], acc[("hint", name)][key]
                rows.append(
                    [
                        f"{what}, {'1 task' if name == alone else name}",
                        h.pct(f, 50),
                        h.pct(g, 50),
                        h.ratio(h.pct(g, 50), h.pct(f, 50)),
                        h.pct(f, 95),
                        h.pct(g, 95),
                        h.ratio(h.pct(g, 95), h.pct(f, 95)),
                    ]
                )
        print(h.table(["from", "p50 feed", "p50 hint", "ratio p50", "p95 feed", "p95 hint", "ratio p95"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
