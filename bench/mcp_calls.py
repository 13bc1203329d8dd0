"""MCP calls: a journaled call in a DALS task next to the same call by a plain in-memory
pydantic-ai agent, and the first call's latency including the server's start.

    .venv/bin/python bench/mcp_calls.py [--n 20] [--reps 5] [--quick]

(Not `bench/mcp.py`: a script's folder comes first on sys.path, and that name would hide the `mcp`
package.)

The server is npm's `@modelcontextprotocol/server-everything` (stdio, pinned, installed by
`make setup` into .mcp-servers/), the tool its `echo`. The same plan of N `/mcp__ev__echo` lines
for the offline model (N calls, N+1 model requests) runs as:

(a) plain pydantic-ai, in memory: `Agent(offline_model(), toolsets=[MCPToolset(StdioTransport(...))
    .prefixed("mcp__ev_")])`, the toolset entered once beforehand (server up), timed around `run`;
(b) DALS's MCP toolset, in memory (`McpTools` with `InMemoryRunner`, the pool's server up): what
    DALS's own seam (tool list step, approval check, plain-data results, events) costs;
(c) a durable DALS task on Restate (`TaskService.start`), the worker's server up (a warm-up task
    started it): worker time = the task's first event `at` to its last.
a, b and c alternate, repetition by repetition. First call, server not yet running: (a') a new
`MCPToolset` entered and called once; (c') a task whose server configuration is new to the worker
(a distinct `env`), from its "Task started" event to its tool event (the tool-list step starts
the server, then one model step and the call). And `import pydantic_ai.mcp` in a fresh interpreter.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EVERYTHING = ROOT / ".mcp-servers" / "node_modules" / ".bin" / "mcp-server-everything"


def echo_plan(n: int) -> str:
    return "\n".join(["Benchmark: echo through MCP"] + [f'/mcp__ev__echo {{"message": "m{i}"}}' for i in range(n)])


def plain_toolset():
    from fastmcp.client.transports import StdioTransport
    from pydantic_ai.mcp import MCPToolset

    return MCPToolset(StdioTransport(str(EVERYTHING), [], keep_alive=False, log_file=Path("/dev/null")), id="ev")


async def run_plain(toolset, prompt: str, ws: Path) -> float:
    from pydantic_ai import Agent
    from pydantic_ai.usage import UsageLimits

    from dals.agent.offline_model import offline_model

    agent = Agent(offline_model(), toolsets=[toolset.prefixed("mcp__ev_")])
    t0 = time.perf_counter()
    result = await agent.run(prompt, usage_limits=UsageLimits(request_limit=1000))
    dt = time.perf_counter() - t0
    assert result.output.startswith("Plan done"), result.output
    return dt


async def run_dals_memory(servers: dict, prompt: str, ws: Path) -> float:
    from pydantic_ai.usage import UsageLimits

    from dals.agent.coder import build_agent
    from dals.agent.deps import InMemoryRunner, TaskDeps
    from dals.agent.mcp_tools import McpTools
    from dals.agent.offline_model import offline_model

    runner = InMemoryRunner()
    agent = build_agent(offline_model(), [McpTools(servers, {}, ["*"], 60)])
    t0 = time.perf_counter()
    result = await agent.run(prompt, deps=TaskDeps(ws, runner), usage_limits=UsageLimits(request_limit=1000))
    dt = time.perf_counter() - t0
    assert result.output.startswith("Plan done") and not any("failed" in e["title"] for e in runner.events)
    return dt


async def run_durable(service, servers: dict, prompt: str, ws: Path, state: Path) -> list[dict]:
    from dals.agent.mcp_handoff import spec_field

    spec = h.make_spec(prompt, ws, mcp=spec_field(servers, [], ["*"], 60, state / "mcp"))
    task_id = await service.start(spec)
    events = await h.follow(service, task_id, interval=0)
    assert events[-1]["status"] == "succeeded", events[-1]
    assert not any(e["kind"] == "tool" and "failed" in e["title"] for e in events), events
    return events


def worker_ms(events: list[dict]) -> float:
    return (h.parse_at(events[-1]["at"]) - h.parse_at(events[0]["at"])) * 1000


async def first_plain() -> float:
    toolset = plain_toolset()
    t0 = time.perf_counter()
    async with toolset:
        await toolset.direct_call_tool("echo", {"message": "first"})
    return time.perf_counter() - t0


def import_seconds() -> float:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import time; t = time.perf_counter(); import pydantic_ai.mcp; print(time.perf_counter() - t)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout)


async def main(n: int, reps: int) -> None:
    assert EVERYTHING.exists(), f"{EVERYTHING} is missing: `make setup` installs it"
    from dals.agent.mcp_servers import POOL

    ws = h.make_workspace()
    prompt = echo_plan(n)
    servers = {"ev": {"type": "stdio", "command": str(EVERYTHING), "args": [], "env": {}, "cwd": None}}
    a, b, c, a1, c1 = [], [], [], [], []
    with h.private_runtime() as st:
        state = Path(st["stateDir"])
        service = h.task_service(st)
        toolset = plain_toolset()
        async with toolset:
            await run_dals_memory(servers, echo_plan(1), ws)  # the pool's server up
            await run_durable(service, servers, echo_plan(1), ws, state)  # the worker's server up
            await run_plain(toolset, echo_plan(1), ws)
            for rep in range(reps):
                order = [0, 1, 2] if rep % 2 == 0 else [2, 1, 0]
                for which in order:
                    if which == 0:
                        a.append(await run_plain(toolset, prompt, ws) * 1000)
                    elif which == 1:
                        b.append(await run_dals_memory(servers, prompt, ws) * 1000)
                    else:
                        c.append(worker_ms(await run_durable(service, servers, prompt, ws, state)))
                a1.append(await first_plain() * 1000)
                fresh = {"ev": dict(servers["ev"], env={"BENCH_RUN": f"{rep}-{time.time()}"})}
                events = await run_durable(service, fresh, echo_plan(1), ws, state)
                tool = next(e for e in events if e["kind"] == "tool")
                c1.append((h.parse_at(tool["at"]) - h.parse_at(events[0]["at"])) * 1000)
        await POOL.close()
        await h.close_service(service)
    imports = [import_seconds() * 1000 for _ in range(3)]
    med = h.median
    print(f"machine: {h.machine()}\ncommand: {h.command_line()}\n")
    print(f"N = {n} echo calls per task (N+1 model steps), medians of {reps} interleaved repetitions\n")
    print(
        h.table(
            ["run", "ms per task", "ms per call step", "ratio to a"],
            [
                ["a: plain pydantic-ai MCPToolset, in memory", f"{med(a):.0f}", f"{med(a) / n:.2f}", "1.00"],
                [
                    "b: DALS McpTools, in memory (no journal)",
                    f"{med(b):.0f}",
                    f"{med(b) / n:.2f}",
                    f"{med(b) / med(a):.2f}",
                ],
                [
                    "c: DALS task on Restate (worker time)",
                    f"{med(c):.0f}",
                    f"{med(c) / n:.2f}",
                    f"{med(c) / med(a):.2f}",
                ],
            ],
        )
    )
    print()
    print(
        h.table(
            ["first call, server not running", "median ms", "min ms", "max ms"],
            [
                ["a': new MCPToolset: start, initialize, echo", f"{med(a1):.0f}", f"{min(a1):.0f}", f"{max(a1):.0f}"],
                [
                    "c': task with a new configuration: started → tool event",
                    f"{med(c1):.0f}",
                    f"{min(c1):.0f}",
                    f"{max(c1):.0f}",
                ],
                [
                    "`import pydantic_ai.mcp` (fresh interpreter)",
                    f"{med(imports):.0f}",
                    f"{min(imports):.0f}",
                    f"{max(imports):.0f}",
                ],
            ],
        )
    )


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="n=5, reps=2")
    args = ap.parse_args()
    asyncio.run(main(5, 2) if args.quick else main(args.n, args.reps))
