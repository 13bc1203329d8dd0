"""Editor responsiveness while tasks run: codeAction and dals.listTasks latency, `initialize`
time of a fresh `dals lsp`, and `dals up` cold and warm.

    .venv/bin/python bench/responsiveness.py [--quick]

All through real processes: a pytest-lsp client talking to `dals lsp` over stdio, and the `dals`
CLI as a subprocess.
  - Requests: `textDocument/codeAction` for a 400-line selection of a 5,000-line file and
    `workspace/executeCommand dals.listTasks`, alternating, one pair every 50 ms: first with no
    task running (idle: 200 pairs, quick 60), then while 20 tasks of 80 read_file lines (161
    journaled steps each; quick: 40 lines, 81 steps) run, started by the same client; the loaded
    phase samples from the first start until they have all finished (fresh servers start meanwhile;
    the tables also give the pairs during which none was starting).
  - `initialize`: spawn `dals lsp` → InitializeResult, for fresh servers on the running runtime,
    idle and under the same load; idle, also spawn → the first request answered after
    `initialized` (a codeAction; `bench/first_answer.py` measures spawn → `dals.listTasks`
    answered); plus `python -c pass` and `python -c 'import dals.lsp.server'`.
  - `dals up`: a fresh state dir each time (`.venv/bin/dals up` → returns healthy), then `dals up`
    again (already running), then `dals down`, stopping every pid it saw.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

TASKS = 20
TARGET_REQUEST_P95_MS = 30.0
TARGET_INIT_MS = 300.0


async def sample_requests(
    client, doc, until, min_samples: int, starting=lambda: False
) -> tuple[list[float], list[float], list[bool]]:
    """codeAction and listTasks, alternating every 50 ms, until `until()` and at least `min_samples`;
    per pair, whether `starting()` (a fresh `dals lsp` starting beside) held at some point of it."""
    from lsprotocol import types

    ca_ms: list[float] = []
    list_ms: list[float] = []
    beside: list[bool] = []
    params = types.CodeActionParams(
        text_document=doc, range=h.lsp_range(1000, 0, 1400, 0), context=types.CodeActionContext(diagnostics=[])
    )
    while len(ca_ms) < min_samples or not until():
        was_starting = starting()
        t = time.perf_counter()
        actions = await client.client.text_document_code_action_async(params)
        ca_ms.append((time.perf_counter() - t) * 1e3)
        assert actions, "no code actions"
        t = time.perf_counter()
        listed = await client.command("dals.listTasks", {})
        list_ms.append((time.perf_counter() - t) * 1e3)
        assert "tasks" in listed
        beside.append(was_starting or starting())
        await asyncio.sleep(0.05)
    return ca_ms, list_ms, beside


async def first_answer_ms(client, ws: Path) -> float:
    """Right after `initialized`: a codeAction on a small file, answered."""
    from lsprotocol import types

    uri = (ws / "a.py").as_uri()
    t = time.perf_counter()
    actions = await client.client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=h.lsp_range(0, 0, 1, 0),
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    assert actions, "no code actions"
    return (time.perf_counter() - t) * 1e3


STARTING = [False]  # a fresh `dals lsp` of fresh_inits is running


async def fresh_inits(ws: Path, n: int) -> tuple[list[float], list[float]]:
    """Fresh `dals lsp` servers: (spawn → InitializeResult, spawn → first request answered after
    `initialized`), ms."""
    inits, firsts = [], []
    for _ in range(n):
        STARTING[0] = True
        try:
            async with h.lsp_client(ws) as other:
                inits.append(other.init_ms)
                firsts.append(other.init_ms + await first_answer_ms(other, ws))
        finally:
            STARTING[0] = False
    return inits, firsts


def python_time(code: str, reps: int) -> float:
    xs = []
    for _ in range(reps):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        xs.append((time.perf_counter() - t0) * 1e3)
    return h.median(xs)


def dals_up_times(reps: int) -> tuple[list[float], list[float]]:
    """`dals up` in a fresh state dir (cold) and again (warm); `dals down` and SIGKILL of leftovers."""
    repo = str(Path(__file__).resolve().parents[1])
    if repo not in sys.path:
        sys.path.insert(0, repo)
    from tests.support.runtime import Runtime

    cold, warm = [], []
    for _ in range(reps):
        state = Path(tempfile.mkdtemp(prefix="dals-bench-up-"))
        rt = Runtime(state, {"DALS_MODEL": "offline"})
        try:
            t0 = time.perf_counter()
            rt.dals("up")
            cold.append((time.perf_counter() - t0) * 1e3)
            st = rt.status()
            assert st["restate"]["healthy"] and st["worker"]["healthy"], st
            t0 = time.perf_counter()
            rt.dals("up")
            warm.append((time.perf_counter() - t0) * 1e3)
            data = __import__("json").loads((state / "runtime.json").read_text())
            rt.pids.add((data.get("zygote") or {}).get("pid") or 0)
            rt.pids.discard(0)
        finally:
            rt.down()
            __import__("shutil").rmtree(state, ignore_errors=True)
    return cold, warm


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer fresh servers and `dals up` runs")
    ap.add_argument("--reps", type=int, default=None, help="fresh `dals lsp` and `dals up` runs (default 3, quick 2)")
    args = ap.parse_args()
    reps = args.reps or (2 if args.quick else 3)
    samples = 60 if args.quick else 200
    reads = 40 if args.quick else 80  # the load must outlast the fresh servers
    print(f"machine: {h.machine()}\ncommand: {h.command_line()}\n", flush=True)
    from lsprotocol import types

    ws = h.make_workspace()
    big = h.big_python_file(ws)
    with h.private_runtime() as st:
        print(f"runtime up in {st['upSeconds']:.2f} s (state dir {st['stateDir']})", flush=True)
        async with h.lsp_client(ws) as client:
            client.client.text_document_did_open(
                types.DidOpenTextDocumentParams(
                    text_document=types.TextDocumentItem(
                        uri=big.as_uri(), language_id="python", version=1, text=big.read_text()
                    )
                )
            )
            doc = types.TextDocumentIdentifier(uri=big.as_uri())
            await client.wait_finished(
                (await client.command("dals.startTask", {"prompt": h.read_plan(2)}))["taskId"], timeout=300
            )  # warm-up
            idle_init, idle_first = await fresh_inits(ws, reps)
            idle_ca, idle_list, _ = await sample_requests(client, doc, lambda: True, samples)
            print(
                f"  idle: codeAction p95 {h.pct(idle_ca, 95):.1f} ms, listTasks p95 {h.pct(idle_list, 95):.1f} ms",
                flush=True,
            )
            ids = [
                (await client.command("dals.startTask", {"prompt": h.read_plan(reads)}))["taskId"] for _ in range(TASKS)
            ]
            began = time.monotonic()
            done = asyncio.gather(*(client.wait_finished(t, timeout=900) for t in ids))
            # sampled from the first task on, while fresh servers start beside it
            sampling = asyncio.ensure_future(sample_requests(client, doc, done.done, 1, lambda: STARTING[0]))
            load_init, _ = await fresh_inits(ws, reps)
            inits_loaded = not done.done()
            load_ca, load_list, beside = await sampling
            alone_ca = [x for x, b in zip(load_ca, beside) if not b]
            alone_list = [x for x, b in zip(load_list, beside) if not b]
            await done
            print(f"  the {TASKS} tasks ran {time.monotonic() - began:.1f} s", flush=True)
            listed = len((await client.command("dals.listTasks", {}))["tasks"])
            print(
                f"  fresh servers started while the tasks ran: {inits_loaded}; {len(load_ca)} request pairs "
                f"while they ran",
                flush=True,
            )
            print(
                f"  {TASKS} tasks running: codeAction p95 {h.pct(load_ca, 95):.1f} ms, listTasks p95 "
                f"{h.pct(load_list, 95):.1f} ms",
                flush=True,
            )
    bare = python_time("pass", 3)
    lsp_import = python_time("import dals.lsp.server", 3)
    cold, warm = dals_up_times(reps)

    print(
        f"\n## Requests at the client (ms; load: {TASKS} tasks of {2 * reads + 1} journaled steps; "
        f"listTasks lists {listed} tasks at the end)\n"
    )
    print(
        h.table(
            ["request", "n", "p50 ms", "p95 ms", "max ms"],
            [
                h.summary_row("codeAction (400-line selection, 5,000-line file), idle", idle_ca),
                h.summary_row(f"codeAction, {TASKS} tasks running", load_ca),
                h.summary_row(f"codeAction, {TASKS} tasks running, no fresh server starting", alone_ca),
                h.summary_row("dals.listTasks, idle", idle_list),
                h.summary_row(f"dals.listTasks, {TASKS} tasks running", load_list),
                h.summary_row(f"dals.listTasks, {TASKS} tasks running, no fresh server starting", alone_list),
            ],
        )
    )
    print("\n## Start-up (ms)\n")
    print(
        h.table(
            ["what", "n", "median ms", "min ms", "max ms"],
            [
                [
                    "`dals lsp` spawn → InitializeResult, idle",
                    len(idle_init),
                    h.median(idle_init),
                    min(idle_init),
                    max(idle_init),
                ],
                [
                    f"`dals lsp` spawn → InitializeResult, {TASKS} tasks running",
                    len(load_init),
                    h.median(load_init),
                    min(load_init),
                    max(load_init),
                ],
                [
                    "`dals lsp` spawn → first answered request after `initialized` (codeAction), idle",
                    len(idle_first),
                    h.median(idle_first),
                    min(idle_first),
                    max(idle_first),
                ],
                ["`python -c pass`", 3, bare, "", ""],
                ["`python -c 'import dals.lsp.server'`", 3, lsp_import, "", ""],
                ["`dals up`, fresh state dir (cold)", len(cold), h.median(cold), min(cold), max(cold)],
                ["`dals up`, already running", len(warm), h.median(warm), min(warm), max(warm)],
            ],
        )
    )
    print(
        f"\ntargets: request p95 <= {TARGET_REQUEST_P95_MS:.0f} ms under load: codeAction "
        f"{h.met(h.pct(load_ca, 95), TARGET_REQUEST_P95_MS)}, listTasks {h.met(h.pct(load_list, 95), TARGET_REQUEST_P95_MS)} "
        f"(no fresh server starting: {h.met(h.pct(alone_ca, 95), TARGET_REQUEST_P95_MS)}, "
        f"{h.met(h.pct(alone_list, 95), TARGET_REQUEST_P95_MS)}); "
        f"initialize <= {TARGET_INIT_MS:.0f} ms: {h.met(h.median(idle_init), TARGET_INIT_MS)} (idle median)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
