"""The client's ingress calls (every page of events a follower reads) through httpx against the
hand-written keep-alive client that carried them until 2026-12 (`PlainHttp`, a copy kept here for
the comparison).

    .venv/bin/python bench/http_client.py [--reps R] [--n N] [--tasks K]

One runtime, two `TaskService`s on it: one whose `RestateApi.call` goes through httpx (what DALS
ships), one through `PlainHttp`. Interleaved repetitions (the order flips every repetition):
  - the floor: R x 200 shared `events` calls, ms per call and this process's CPU per call;
  - step cost: an N-step offline plan followed to its end (as `bench/step_cost.py`), wall ms and
    follower CPU ms per journaled step;
  - K such tasks at once, each followed without pushes (`feed` tasks: every change is a read),
    wall and follower CPU ms per step.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
import step_cost as sc  # noqa: E402


class PlainHttp:
    """The former `dals.client.plain_http.PlainHttp`: JSON POSTs over a stack of idle HTTP/1.1
    keep-alive streams (plain asyncio), for the side-by-side comparison only."""

    def __init__(self, uds: str):
        self.uds = uds
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            f"Accept: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        conn = self._idle.pop() if self._idle else await asyncio.open_unix_connection(self.uds)
        reader, writer = conn
        writer.write(head + body)
        status = int((await reader.readuntil(b"\r\n")).split()[1])
        headers = {}
        while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        data = await reader.readexactly(int(headers["content-length"]))
        self._idle.append(conn)
        return status, data

    async def aclose(self) -> None:
        for _, writer in self._idle:
            writer.close()


def plain_service(st: dict):
    """A TaskService whose ingress calls go through PlainHttp (the runtime's ingress socket)."""
    from dals.local.endpoints import socket_path

    service = h.task_service(st)
    plain = PlainHttp(socket_path(st["restate"]["ingress"]))
    api = service.api

    async def call(service_name, key, handler, body=None, timeout=None):
        status, data = await plain.post(f"/{service_name}/{key}/{handler}", json.dumps(body).encode())
        assert status == 200, (status, data[:200])
        return json.loads(data) if data else None

    api.call = call
    api.plain = plain
    return service


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def floor(service, calls: int) -> tuple[float, float]:
    t0, c0 = time.perf_counter(), cpu()
    for _ in range(calls):
        await service.api.call("AgentTask", "bench-floor", "events", 0)
    return (time.perf_counter() - t0) / calls * 1e3, (cpu() - c0) / calls * 1e3


async def many(service, ws: Path, n: int, k: int) -> tuple[float, float]:
    """K tasks of N steps at once, each followed reading every change (`feed` tasks, as for a
    worker elsewhere: no pushes, a read after each TaskFeed wake-up): ms per step."""
    steps = k * (2 * n + 1)
    t0, c0 = time.perf_counter(), cpu()
    ids = [await service.start(h.make_spec(h.read_plan(n), ws, wakeup="feed")) for _ in range(k)]
    done = await asyncio.gather(*(h.follow(service, t, interval=0) for t in ids))
    assert all(evs[-1]["status"] == "succeeded" for evs in done)
    return (time.perf_counter() - t0) / steps * 1e3, (cpu() - c0) / steps * 1e3


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--tasks", type=int, default=10)
    args = ap.parse_args()
    print(f"machine: {h.machine()}\ncommand: {h.command_line()}\n", flush=True)
    ws = h.make_workspace()
    steps = 2 * args.n + 1
    out: dict[str, dict[str, list[float]]] = {}
    with h.private_runtime() as st:
        pids = h.runtime_pids()
        procs = {"worker": pids["worker"]["pid"], "restate": pids["restate"]["pid"], "self": None}
        clients = {"httpx": h.task_service(st), "plain": plain_service(st)}
        for service in clients.values():  # warm both paths
            await sc.run_durable(service, h.read_plan(3), ws, "hint", procs)
            await floor(service, 20)
        for r in range(args.reps):
            for name in list(clients) if r % 2 == 0 else list(clients)[::-1]:
                service = clients[name]
                got = out.setdefault(name, {})
                ms, cpu_ms = await floor(service, 200)
                got.setdefault("call ms", []).append(ms)
                got.setdefault("call CPU ms", []).append(cpu_ms)
                run = await sc.run_durable(service, h.read_plan(args.n), ws, "hint", procs)
                got.setdefault("step wall ms", []).append(run["wall"] * 1e3 / steps)
                got.setdefault("step follower CPU ms", []).append(run["cpu"]["self"] * 1e3 / steps)
                ms, cpu_ms = await many(service, ws, args.n, args.tasks)
                got.setdefault(f"{args.tasks} tasks wall ms/step", []).append(ms)
                got.setdefault(f"{args.tasks} tasks follower CPU ms/step", []).append(cpu_ms)
                print(f"  rep {r + 1} {name}: " + ", ".join(f"{k} {v[-1]:.3f}" for k, v in got.items()), flush=True)
        for service in clients.values():
            if hasattr(service.api, "plain"):
                await service.api.plain.aclose()
            await h.close_service(service)
    keys = list(out["httpx"])
    rows = [
        [k, h.median(out["httpx"][k]), h.median(out["plain"][k]), h.median(out["plain"][k]) / h.median(out["httpx"][k])]
        for k in keys
    ]
    print(f"\n## Ingress calls: httpx against the hand-written client (medians of {args.reps}, N = {args.n})\n")
    print(h.table(["measure", "httpx", "plain asyncio", "plain / httpx"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
