"""Time to the first useful answer of a fresh `dals lsp`: spawn -> `initialize` answered ->
`initialized` -> `workspace/executeCommand dals.listTasks` answered, on a running runtime.

    .venv/bin/python bench/first_answer.py [--runs N] [--variant NAME=ENV[,ENV...]]... [--dals PATH]

The client is plain JSON-RPC over the child's pipes (standard library only, so the client's own
imports do not count). Each variant is a set of environment variables for `dals lsp` (default: one
variant, "default", with nothing set); a `--dals NAME=PATH` variant runs another `dals` executable
(e.g. main's checkout, for before/after). Variants alternate run by run (their order flips every
run), so the noisy machine hits all alike. Reported: medians (and min/max) of ms from spawn to the
InitializeResult and from spawn to the listTasks answer; and, as the floor any pygls server pays
before it can answer anything, `python -c "import pygls.lsp.server"` (spawn to exit).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

TARGET_MS = 500.0
DALS = str(Path(sys.executable).with_name("dals"))


def frame(message: dict) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def read_message(stream) -> dict:
    length = 0
    while True:
        line = stream.readline()
        if not line:
            raise EOFError("dals lsp closed its stdout")
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
        elif line == b"\r\n":
            return json.loads(stream.read(length))


def read_reply(stream, rid: int) -> dict:
    while True:
        msg = read_message(stream)
        if msg.get("id") == rid and "method" not in msg:
            return msg


def one_run(dals: str, env: dict[str, str], ws: Path) -> tuple[float, float]:
    """(ms to the InitializeResult, ms to the listTasks answer), both from spawn."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [dals, "lsp"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ) | env,
    )
    try:
        assert proc.stdin and proc.stdout
        proc.stdin.write(
            frame(
                {
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "initialize",
                    "params": {
                        "processId": os.getpid(),
                        "rootUri": ws.as_uri(),
                        "capabilities": {},
                        "workspaceFolders": [{"uri": ws.as_uri(), "name": ws.name}],
                    },
                }
            )
        )
        proc.stdin.flush()
        init = read_reply(proc.stdout, 1)
        t_init = time.perf_counter()
        assert "result" in init, init
        proc.stdin.write(frame({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
        proc.stdin.write(
            frame(
                {
                    "jsonrpc": "2.0",
                    "id": 2,
                    "method": "workspace/executeCommand",
                    "params": {"command": "dals.listTasks", "arguments": [{}]},
                }
            )
        )
        proc.stdin.flush()
        listed = read_reply(proc.stdout, 2)
        t_list = time.perf_counter()
        assert "tasks" in (listed.get("result") or {}), listed
        proc.stdin.write(frame({"jsonrpc": "2.0", "id": 3, "method": "shutdown"}))
        proc.stdin.write(frame({"jsonrpc": "2.0", "method": "exit"}))
        proc.stdin.flush()
        return (t_init - t0) * 1e3, (t_list - t0) * 1e3
    finally:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def floor_ms() -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import pygls.lsp.server"], check=True)
    return (time.perf_counter() - t0) * 1e3


def parse_variants(specs: list[str], exes: list[str]) -> dict[str, tuple[str, dict[str, str]]]:
    out: dict[str, tuple[str, dict[str, str]]] = {}
    for spec in specs:
        name, _, envs = spec.partition("=")
        out[name] = (DALS, dict(e.split(":", 1) for e in envs.split(",") if e))
    for spec in exes:
        name, _, path = spec.partition("=")
        out[name] = (path, {})
    return out or {"default": (DALS, {})}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument(
        "--variant",
        action="append",
        default=[],
        help="NAME=VAR:VALUE[,VAR:VALUE...] (e.g. fast-off=DALS_LSP_FAST_START:0)",
    )
    ap.add_argument("--dals", action="append", default=[], help="NAME=PATH of another dals executable")
    args = ap.parse_args()
    variants = parse_variants(args.variant, args.dals)
    print(f"machine: {h.machine()}\ncommand: {h.command_line()}\n", flush=True)
    ws = h.make_workspace()
    got: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    floor: list[float] = []
    with h.private_runtime():
        for name, (dals, env) in variants.items():  # warm the page cache once per variant
            one_run(dals, env, ws)
        for r in range(args.runs):
            for name in list(variants) if r % 2 == 0 else list(variants)[::-1]:
                dals, env = variants[name]
                got[name].append(one_run(dals, env, ws))
                print(
                    f"  run {r + 1} {name}: initialize {got[name][-1][0]:.0f} ms, listTasks {got[name][-1][1]:.0f} ms",
                    flush=True,
                )
            floor.append(floor_ms())
    rows = []
    for name, xs in got.items():
        init, listed = [x[0] for x in xs], [x[1] for x in xs]
        rows.append(
            [name, h.median(init), h.median(listed), min(listed), max(listed), h.met(h.median(listed), TARGET_MS)]
        )
    rows.append(["floor: python -c 'import pygls.lsp.server'", "", h.median(floor), min(floor), max(floor), ""])
    print(f"\n## Spawn -> first dals.listTasks answer (median of {args.runs}, ms)\n")
    print(
        h.table(["variant", "initialize answered", "listTasks answered", "min", "max", f"≤ {TARGET_MS:.0f} ms"], rows)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
