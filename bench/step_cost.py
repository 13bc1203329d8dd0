"""What durability costs per step: the same N-step offline plan run in memory and through Restate.

    .venv/bin/python bench/step_cost.py [--quick] [--reps R]

(a) in memory: `build_agent(offline_model()).run(prompt, deps=TaskDeps(ws, InMemoryRunner()))`;
(b) durable: `TaskService.start(spec)`, then polling `events_since` (every 10 ms) until the
    terminal status event. "wall" = start call to the final event seen by the poller; "worker" =
    the task's first event `at` to its last event `at` (both written by the worker).
An N-line `/read_file` plan is 2N+1 journaled steps (N+1 model requests, N tool calls).
a and b alternate, repetition by repetition, so the noisy machine hits both alike.
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


async def run_in_memory(prompt: str, ws: Path) -> float:
    from pydantic_ai.usage import UsageLimits

    from dals.agent.coder import build_agent
    from dals.agent.deps import InMemoryRunner, TaskDeps
    from dals.agent.offline_model import offline_model

    agent = build_agent(offline_model())
    t0 = time.perf_counter()
    result = await agent.run(prompt, deps=TaskDeps(ws, InMemoryRunner()),
                             usage_limits=UsageLimits(request_limit=1000))
    dt = time.perf_counter() - t0
    assert result.output.startswith("Plan done"), result.output
    return dt


async def run_durable(service, prompt: str, ws: Path, interval: float = 0.01) -> dict:
    spec = h.make_spec(prompt, ws)
    t0 = time.monotonic()
    await service.start(spec)
    events = await h.follow(service, spec["taskId"], interval=interval)
    assert events[-1]["status"] == "succeeded", events[-1]
    ats = [h.parse_at(e["at"]) for e in events]
    # Gap before each event, by kind: before a `tool` event = the tool step (+ the previous
    # event's state writes); before a `model` event = the model step.
    gaps: dict[str, list[float]] = {"model": [], "tool": []}
    for prev, e, at in zip(ats, events[1:], ats[1:]):
        if e["kind"] in gaps:
            gaps[e["kind"]].append((at - prev) * 1e3)
    return {"wall": events[-1]["seenAt"] - t0, "worker": ats[-1] - ats[0], "count": len(events),
            "gap_model": h.median(gaps["model"]), "gap_tool": h.median(gaps["tool"])}


def serde_cost(calls_on: int = 1000, calls_off: int = 100, blocks: int = 5) -> dict[str, float]:
    """µs per `PydanticTypeAdapter(ModelResponse).serialize(resp)`, fix off vs on, alternating blocks.
    Fewer calls with the fix off: each one costs tens of ms here."""
    from pydantic_ai.messages import ModelResponse, ToolCallPart
    from pydantic_ai.usage import RequestUsage
    from restate.ext.pydantic._serde import PydanticTypeAdapter

    from dals.durable import serde_cache

    resp = ModelResponse(parts=[ToolCallPart("read_file", {"path": "a.py"}, tool_call_id="call-1")],
                         usage=RequestUsage(input_tokens=120, output_tokens=8), model_name="offline")
    serde = PydanticTypeAdapter(ModelResponse)
    per_on, per_off = max(1, calls_on // blocks), max(1, calls_off // blocks)
    off: list[float] = []
    on: list[float] = []
    out_off = out_on = b""
    try:
        for _ in range(blocks):
            serde_cache.uninstall()
            t0 = time.perf_counter()
            for _ in range(per_off):
                out_off = serde.serialize(resp)
            off.append((time.perf_counter() - t0) / per_off * 1e6)
            serde_cache.install()
            t0 = time.perf_counter()
            for _ in range(per_on):
                out_on = serde.serialize(resp)
            on.append((time.perf_counter() - t0) / per_on * 1e6)
    finally:
        serde_cache.uninstall()
    assert out_off == out_on, "the fix must not change the bytes"
    return {"off": h.median(off), "on": h.median(on), "calls_off": per_off * blocks, "calls_on": per_on * blocks}


async def floor(service, n: int) -> dict[str, list[float]]:
    """Latency of one ingress round trip: shared `events` (reads state) and an exclusive handler
    that reads and writes state (TaskLedger.add_replayed, on a key of its own)."""
    api = service.api
    out: dict[str, list[float]] = {"health": [], "events": [], "write": []}
    for i in range(n):
        t0 = time.perf_counter()
        await api._http.get(f"{api.ingress_url}/restate/health")
        out["health"].append((time.perf_counter() - t0) * 1e3)
        t0 = time.perf_counter()
        await api.call("AgentTask", "bench-floor", "events", 0)
        out["events"].append((time.perf_counter() - t0) * 1e3)
        t0 = time.perf_counter()
        await api.call("TaskLedger", "bench-floor", "add_replayed", 1)
        out["write"].append((time.perf_counter() - t0) * 1e3)
    return out


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="N = 20 and 60 only, 3 repetitions")
    ap.add_argument("--reps", type=int, default=None)
    args = ap.parse_args()
    sizes = [20, 60] if args.quick else [20, 60, 200]
    reps = args.reps or (3 if args.quick else 5)
    print(f"machine: {h.machine()}\ncommand: {h.command_line()}\n", flush=True)

    serde = serde_cost()
    ws = h.make_workspace()
    with h.private_runtime() as st:
        print(f"runtime up in {st['upSeconds']:.2f} s (state dir {st['stateDir']})", flush=True)
        service = h.task_service(st)
        # Warm both paths once (imports, first invocation, deployment discovery).
        await run_in_memory(h.read_plan(3), ws)
        await run_durable(service, h.read_plan(3), ws, interval=0)
        rows = []
        gap_rows = []
        for n in sizes:
            prompt = h.read_plan(n)
            steps = 2 * n + 1
            mem: list[float] = []
            fast: list[dict] = []
            slow: list[dict] = []
            for r in range(reps):
                mem.append(await run_in_memory(prompt, ws))
                fast.append(await run_durable(service, prompt, ws, interval=0))  # long-poll, as dals lsp
                slow.append(await run_durable(service, prompt, ws, interval=0.25))
                assert fast[-1]["count"] == slow[-1]["count"] == 2 * n + 3
                print(f"  N={n} rep {r + 1}: memory {mem[-1] * 1e3:.0f} ms, durable wall "
                      f"{fast[-1]['wall'] * 1e3:.0f} ms, worker {fast[-1]['worker'] * 1e3:.0f} ms, "
                      f"worker (250 ms poll) {slow[-1]['worker'] * 1e3:.0f} ms", flush=True)
            a = h.median(mem) * 1e3 / steps
            bw = h.median([x["wall"] for x in fast]) * 1e3 / steps
            bk = h.median([x["worker"] for x in fast]) * 1e3 / steps
            ck = h.median([x["worker"] for x in slow]) * 1e3 / steps
            rows.append([n, steps, h.median(mem) * 1e3, h.median([x["wall"] for x in fast]) * 1e3,
                         a, bw, bk, ck, bw / a, bk / a])
            gap_rows.append([n, h.median([x["gap_model"] for x in fast]), h.median([x["gap_tool"] for x in fast]),
                             h.median([x["gap_model"] for x in slow]), h.median([x["gap_tool"] for x in slow])])
        fl = await floor(service, 200)
        await service.api.aclose()

    print("\n## Per-step cost (medians of", reps, "interleaved repetitions)\n")
    print(h.table(["N", "steps (2N+1)", "a: memory ms", "b: durable wall ms",
                   "a ms/step", "b wall ms/step", "b worker ms/step", "b worker ms/step, 250 ms poll instead",
                   "ratio wall b/a", "ratio worker b/a"], rows))
    print("\n## Worker-side gap before each event (median ms; from the events' `at`)\n")
    print(h.table(["N", "model step (long-poll)", "tool step (long-poll)", "model step (250 ms poll)",
                   "tool step (250 ms poll)"], gap_rows))
    print("\n## PydanticTypeAdapter(ModelResponse).serialize, in process\n")
    print(h.table(["serde fix", "µs per call", f"calls"],
                  [["off (restate-sdk as shipped)", serde["off"], serde["calls_off"]],
                   ["on (serde_cache.install())", serde["on"], serde["calls_on"]],
                   ["ratio off/on", serde["off"] / serde["on"], ""]]))
    print("\n## Floor: one ingress round trip (200 calls each, interleaved)\n")
    print(h.table(["call", "p50 ms", "p90 ms"],
                  [["GET /restate/health (ingress only, no worker)", h.pct(fl["health"], 50), h.pct(fl["health"], 90)],
                   ["AgentTask/events (shared: worker + state read)", h.pct(fl["events"], 50), h.pct(fl["events"], 90)],
                   ["TaskLedger/add_replayed (exclusive: worker + state write)", h.pct(fl["write"], 50),
                    h.pct(fl["write"], 90)]]))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
