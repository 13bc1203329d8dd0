"""What signed inputs cost (docs/security.md, guarantee 9), side by side with what a step costs.

Each input that acts on a task (a start, an answer, an editor answer, a resume, a cancel) is signed
once by the client and verified once by the worker; steps themselves are not signed. This measures,
in one run: signing and verifying a task spec and an approval answer (median of N), and the wall
time per step of a 20-step task on a private runtime, and says what share of a step one
sign+verify is (an editor answer per edited file is the most frequent signed input: at most one per
step).

    .venv/bin/python bench/signing.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

from dals.trust.client_keys import public_text  # noqa: E402
from dals.trust.signed_input import sign, verify  # noqa: E402


def micro(n: int) -> dict[str, list[float]]:
    key = Ed25519PrivateKey.generate()
    trusted = {public_text(key.public_key()): key.public_key()}
    spec = h.make_spec(h.read_plan(20), Path("/tmp"))
    answer = {"decision": "approve", "comment": None, "at": "2026-12-07T00:00:00.000Z"}
    out: dict[str, list[float]] = {"sign spec": [], "verify spec": [], "sign answer": [], "verify answer": []}
    for _ in range(n):
        for name, body in (("spec", spec), ("answer", answer)):
            t0 = time.perf_counter()
            env = sign(key, "start", "t1/r1", body)
            t1 = time.perf_counter()
            verify(env, trusted, "start", "t1/r1")
            t2 = time.perf_counter()
            out[f"sign {name}"].append((t1 - t0) * 1e3)
            out[f"verify {name}"].append((t2 - t1) * 1e3)
    return out


async def step_ms(st: dict, runs: int, steps: int) -> list[float]:
    per_step = []
    service = h.task_service(st)
    ws = h.make_workspace()
    try:
        for _ in range(runs):
            spec = h.make_spec(h.read_plan(steps), ws)
            t0 = time.perf_counter()
            await service.start(spec)
            await h.follow(service, spec.taskId, interval=0)
            per_step.append((time.perf_counter() - t0) * 1e3 / (2 * steps + 1))  # model + tool steps
    finally:
        await h.close_service(service)
    return per_step


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n, runs = (500, 3) if args.quick else (5000, 10)
    print(f"# Signed inputs ({h.machine()})\n\n{h.command_line()}\n")
    with h.private_runtime() as st:
        steps = asyncio.run(step_ms(st, runs, 20))
        costs = micro(n)
    print(
        h.table(
            ["what", "median ms", "p90 ms"],
            [[k, h.median(v), h.pct(v, 90)] for k, v in costs.items()]
            + [["one durable step (20-step task, wall)", h.median(steps), h.pct(steps, 90)]],
        )
    )
    one = h.median(costs["sign answer"]) + h.median(costs["verify answer"])
    share = 100 * one / h.median(steps)
    print(
        f"\nsign + verify of one answer = {one:.3f} ms = {share:.2f} % of a step's median "
        f"(target <= 5 %): {h.met(share, 5.0)}"
    )


if __name__ == "__main__":
    main()
