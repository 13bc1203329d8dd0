"""What durability costs per step: the same N-step offline plan run in memory and through Restate.

    .venv/bin/python bench/step_cost.py [--quick] [--reps R] [--wakeup feed,hint]

(a) in memory: `build_agent(offline_model()).run(prompt, deps=TaskDeps(ws, InMemoryRunner()))`;
(b) durable, once per wake-up mode (`TaskSpec.wakeup`: "feed", a `TaskFeed/publish` invocation
    per summary write, the way before hints; "hint", a loopback datagram): `TaskService.start(spec)`,
    then `harness.follow(interval=0)`, which waits between reads as `dals lsp` does (the feed's
    long-poll, or the hint listener); b' the same task followed by a 250 ms poller instead.
    "wall" = start call to the final event seen by the follower; "worker" = the task's first event
    `at` to its last event `at` (both written by the worker). CPU per step: utime + stime
    (/proc/PID/stat) of the worker, restate-server and this process (the follower) around each run.
An N-line `/read_file` plan is 2N+1 journaled steps (N+1 model requests, N tool calls).
a and the b runs alternate, repetition by repetition (the modes' order flips every repetition),
so the noisy machine hits all alike.
Also: PydanticTypeAdapter.serialize with the serde fix off and on (in process), and the floor of
one Restate round trip (a shared `events` call; an exclusive handler that writes state).
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


async def run_in_memory(prompt: str, ws: Path) -> float:
    from pydantic_ai.usage import UsageLimits

    from dals.agent.coder import build_agent
    from dals.agent.deps import InMemoryRunner, TaskDeps
    from dals.agent.offline_model import offline_model

    agent = build_agent(offline_model())
    t0 = time.perf_counter()
    result = await agent.run(prompt, deps=TaskDeps(ws, InMemoryRunner()), usage_limits=UsageLimits(request_limit=1000))
    dt = time.perf_counter() - t0
    assert result.output.startswith("Plan done"), result.output
    return dt


async def run_durable(
    service, prompt: str, ws: Path, wakeup: str, procs: dict[str, int | None], interval: float = 0.0
) -> dict:
    spec = h.make_spec(prompt, ws, wakeup=wakeup)
    cpu0 = ru.cpu_of(procs)
    follow0 = dict(h.FOLLOW_STATS)
    t0 = time.monotonic()
    await service.start(spec)
    events = await h.follow(service, spec.taskId, interval=interval)
    cpu = {k: v - cpu0[k] for k, v in ru.cpu_of(procs).items()}
    follower = {k: v - follow0[k] for k, v in h.FOLLOW_STATS.items()}  # reads, pushed pages, early re-reads
    assert events[-1]["status"] == "succeeded", events[-1]
    ats = [h.parse_at(e["at"]) for e in events]
    # Gap before each event, by kind: before a `tool` event = the tool step (+ the previous
    # event's state writes); before a `model` event = the model step.
    gaps: dict[str, list[float]] = {"model": [], "tool": []}
    for prev, e, at in zip(ats, events[1:], ats[1:]):
        if e["kind"] in gaps:
            gaps[e["kind"]].append((at - prev) * 1e3)
    return {
        "wall": events[-1]["seenAt"] - t0,
        "worker": ats[-1] - ats[0],
        "count": len(events),
        "gap_model": h.median(gaps["model"]),
        "gap_tool": h.median(gaps["tool"]),
        "cpu": cpu,
        "follower": follower,
    }


def serde_cost(calls_on: int = 1000, calls_off: int = 100, blocks: int = 5) -> dict[str, float]:
    """µs per `PydanticTypeAdapter(ModelResponse).serialize(resp)`, fix off vs on, alternating blocks.
    Fewer calls with the fix off: each one costs tens of ms here."""
    from pydantic_ai.messages import ModelResponse, ToolCallPart
    from pydantic_ai.usage import RequestUsage

    from dals.durable import restate_compat
    from dals.durable.restate_compat import PydanticTypeAdapter

    resp = ModelResponse(
        parts=[ToolCallPart("read_file", {"path": "a.py"}, tool_call_id="call-1")],
        usage=RequestUsage(input_tokens=120, output_tokens=8),
        model_name="offline",
    )
    serde = PydanticTypeAdapter(ModelResponse)
    per_on, per_off = max(1, calls_on // blocks), max(1, calls_off // blocks)
    off: list[float] = []
    on: list[float] = []
    out_off = out_on = b""
    try:
        for _ in range(blocks):
            restate_compat.uninstall_serde_cache()
            t0 = time.perf_counter()
            for _ in range(per_off):
                out_off = serde.serialize(resp)
            off.append((time.perf_counter() - t0) / per_off * 1e6)
            restate_compat.install_serde_cache()
            t0 = time.perf_counter()
            for _ in range(per_on):
                out_on = serde.serialize(resp)
            on.append((time.perf_counter() - t0) / per_on * 1e6)
    finally:
        restate_compat.uninstall_serde_cache()
    assert out_off == out_on, "the fix must not change the bytes"
    return {"off": h.median(off), "on": h.median(on), "calls_off": per_off * blocks, "calls_on": per_on * blocks}


async def floor(service, n: int) -> dict[str, list[float]]:
    """Latency of one ingress round trip: shared `events` (reads state) and an exclusive handler
    that reads and writes state (TaskLedger.add_replayed, on a key of its own)."""
    api = service.api
    out: dict[str, list[float]] = {"health": [], "events": [], "write": []}
    for i in range(n):
        t0 = time.perf_counter()
        await api._ingress.get("/restate/health")
        out["health"].append((time.perf_counter() - t0) * 1e3)
        t0 = time.perf_counter()
        await api.call("AgentTask", "bench-floor", "events", 0)
        out["events"].append((time.perf_counter() - t0) * 1e3)
        t0 = time.perf_counter()
        await api.call("TaskLedger", "bench-floor", "add_replayed", 1)
        out["write"].append((time.perf_counter() - t0) * 1e3)
    return out


def med(runs: list[dict], key: str, per: float = 1.0) -> float:
    """Median of `key` (or `cpu:<process>`) over runs, in ms divided by `per`."""
    if key.startswith("cpu:"):
        return h.median([x["cpu"][key[4:]] for x in runs]) * 1e3 / per
    return h.median([x[key] for x in runs]) * 1e3 / per


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="N = 20 and 60 only, 3 repetitions")
    ap.add_argument("--reps", type=int, default=None)
    ap.add_argument("--sizes", default=None, help="comma-separated N (default 20,60,200; --quick 20,60)")
    ap.add_argument("--wakeup", type=h.wakeups_arg, default="feed,hint", help="wake-up modes to run (feed,hint)")
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")] if args.sizes else ([20, 60] if args.quick else [20, 60, 200])
    reps = args.reps or (3 if args.quick else 5)
    modes: list[str] = args.wakeup
    print(f"machine: {h.machine()}\ncommand: {h.command_line()}\n", flush=True)

    serde = serde_cost()
    ws = h.make_workspace()
    with h.private_runtime() as st:
        print(f"runtime up in {st['upSeconds']:.2f} s (state dir {st['stateDir']})", flush=True)
        service = h.task_service(st)
        pids = h.runtime_pids()
        procs = {"worker": pids["worker"]["pid"], "restate": pids["restate"]["pid"], "self": None}
        # Warm every path once (imports, first invocation, deployment discovery, the hint listener).
        await run_in_memory(h.read_plan(3), ws)
        for w in modes:
            await run_durable(service, h.read_plan(3), ws, w, procs)
        res: dict[int, dict] = {}
        for n in sizes:
            prompt = h.read_plan(n)
            mem: list[float] = []
            fast: dict[str, list[dict]] = {w: [] for w in modes}
            slow: dict[str, list[dict]] = {w: [] for w in modes}
            for r in range(reps):
                mem.append(await run_in_memory(prompt, ws))
                line = [f"  N={n} rep {r + 1}: memory {mem[-1] * 1e3:.0f} ms"]
                for w in modes if r % 2 == 0 else modes[::-1]:
                    fast[w].append(await run_durable(service, prompt, ws, w, procs))  # as dals lsp
                    slow[w].append(await run_durable(service, prompt, ws, w, procs, interval=0.25))
                    # start, prompt message, n+1 model requests, n tools, answer message, end
                    assert fast[w][-1]["count"] == slow[w][-1]["count"] == 2 * n + 5
                    line.append(
                        f"{w}: wall {fast[w][-1]['wall'] * 1e3:.0f} ms, worker "
                        f"{fast[w][-1]['worker'] * 1e3:.0f} ms (250 ms poll {slow[w][-1]['worker'] * 1e3:.0f})"
                    )
                print(", ".join(line), flush=True)
            res[n] = {"mem": mem, "fast": fast, "slow": slow}
        fl = await floor(service, 200)
        await h.close_service(service)

    print(
        f"\n## Per-step cost (medians of {reps} interleaved repetitions; b = durable, followed as "
        "`dals lsp` does; b' = the same, 250 ms poll)\n"
    )
    rows, gap_rows, cpu_rows, vs_rows, follow_rows = [], [], [], [], []
    for n in sizes:
        steps = 2 * n + 1
        a = h.median(res[n]["mem"]) * 1e3 / steps
        for w in modes:
            fast, slow = res[n]["fast"][w], res[n]["slow"][w]
            bw, bk = med(fast, "wall", steps), med(fast, "worker", steps)
            rows.append(
                [
                    n,
                    w,
                    steps,
                    h.median(res[n]["mem"]) * 1e3,
                    med(fast, "wall"),
                    a,
                    bw,
                    bk,
                    med(slow, "worker", steps),
                    bw / a,
                    bk / a,
                ]
            )
            gap_rows.append(
                [
                    n,
                    w,
                    h.median([x["gap_model"] for x in fast]),
                    h.median([x["gap_tool"] for x in fast]),
                    h.median([x["gap_model"] for x in slow]),
                    h.median([x["gap_tool"] for x in slow]),
                ]
            )
            cpu = [med(fast, f"cpu:{k}", steps) for k in procs]
            cpu_rows.append([n, w, *cpu, sum(cpu), med(slow, "cpu:worker", steps), med(slow, "cpu:restate", steps)])
            follow_rows.append(
                [n, w, 2 * n + 3, *(h.median([x["follower"][k] for x in fast]) for k in ("reads", "pushed", "early"))]
            )
        if modes == ["feed", "hint"] or modes == ["hint", "feed"]:
            f, g = res[n]["fast"]["feed"], res[n]["fast"]["hint"]
            cf = sum(med(f, f"cpu:{k}", steps) for k in procs)
            cg = sum(med(g, f"cpu:{k}", steps) for k in procs)
            vs_rows.append(
                [
                    n,
                    med(f, "wall", steps),
                    med(g, "wall", steps),
                    med(g, "wall") / med(f, "wall"),
                    med(f, "worker", steps),
                    med(g, "worker", steps),
                    med(g, "worker") / med(f, "worker"),
                    cf,
                    cg,
                    cg / cf if cf else float("nan"),
                ]
            )
    print(
        h.table(
            [
                "N",
                "wakeup",
                "steps (2N+1)",
                "a: memory ms",
                "b: durable wall ms",
                "a ms/step",
                "b wall ms/step",
                "b worker ms/step",
                "b' worker ms/step (250 ms poll)",
                "ratio wall b/a",
                "ratio worker b/a",
            ],
            rows,
        )
    )
    print("\n## CPU ms per journaled step (medians; utime + stime around each run)\n")
    print(
        h.table(
            [
                "N",
                "wakeup",
                "worker",
                "restate-server",
                "follower (this process)",
                "sum",
                "worker, b' (250 ms poll)",
                "restate-server, b'",
            ],
            cpu_rows,
        )
    )
    if vs_rows:
        print("\n## hint vs feed, same run (b; ms per step; ratio = hint / feed)\n")
        print(
            h.table(
                [
                    "N",
                    "wall feed",
                    "wall hint",
                    "ratio wall",
                    "worker feed",
                    "worker hint",
                    "ratio worker",
                    "CPU sum feed",
                    "CPU sum hint",
                    "ratio CPU",
                ],
                vs_rows,
            )
        )
    print(
        "\n## The follower (b) per task (medians): reads of `AgentTask/events`, pages taken from pushes, "
        "early re-reads\n"
    )
    print(h.table(["N", "wakeup", "events", "reads", "pushed pages", "early re-reads"], follow_rows))
    print("\n## Worker-side gap before each event (median ms; from the events' `at`)\n")
    print(
        h.table(
            [
                "N",
                "wakeup",
                "model step (b)",
                "tool step (b)",
                "model step (b', 250 ms poll)",
                "tool step (b', 250 ms poll)",
            ],
            gap_rows,
        )
    )
    print("\n## PydanticTypeAdapter(ModelResponse).serialize, in process\n")
    print(
        h.table(
            ["serde fix", "µs per call", "calls"],
            [
                ["off (restate-sdk as shipped)", serde["off"], serde["calls_off"]],
                ["on (restate_compat.install_serde_cache())", serde["on"], serde["calls_on"]],
                ["ratio off/on", serde["off"] / serde["on"], ""],
            ],
        )
    )
    print("\n## Floor: one ingress round trip (200 calls each, interleaved)\n")
    print(
        h.table(
            ["call", "p50 ms", "p90 ms"],
            [
                ["GET /restate/health (ingress only, no worker)", h.pct(fl["health"], 50), h.pct(fl["health"], 90)],
                ["AgentTask/events (shared: worker + state read)", h.pct(fl["events"], 50), h.pct(fl["events"], 90)],
                [
                    "TaskLedger/add_replayed (exclusive: worker + state write)",
                    h.pct(fl["write"], 50),
                    h.pct(fl["write"], 90),
                ],
            ],
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
