"""Editor responsiveness: `textDocument/codeAction` and `codeAction/resolve` latency on a
5,000-line file, measured at a real LSP client talking to `dals lsp` over stdio.

    .venv/bin/python bench/code_actions.py [--n 300]

Code actions are built from the request alone (no Restate round trip): this measures the server's
own cost plus JSON-RPC over stdio. The runtime `dals lsp` brings up in the background runs in a
temporary state dir and is stopped at the end.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lsprotocol import types  # noqa: E402

from bench.harness import machine, median, pct  # noqa: E402
from tests.support.lsp_client import DalsClient  # noqa: E402
from tests.support.runtime import DALS  # noqa: E402


def rng(l1, c1, l2, c2):
    return types.Range(start=types.Position(line=l1, character=c1), end=types.Position(line=l2, character=c2))


async def main(n: int) -> None:
    ws = Path(tempfile.mkdtemp(prefix="dals-bench-ca-"))
    state = tempfile.mkdtemp(prefix="dals-bench-ca-state-")
    env = dict(os.environ, DALS_STATE_DIR=state, DALS_MODEL="offline")
    lines = [f"def f{i}(x):\n    return x + {i}\n" for i in range(2500)]
    text = "".join(lines)  # 5,000 lines
    path = ws / "big.py"
    path.write_text(text)
    client = DalsClient(env, ws)
    t0 = time.perf_counter()
    await client.start()
    init_ms = (time.perf_counter() - t0) * 1000
    try:
        client.client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
            uri=path.as_uri(), language_id="python", version=1, text=text)))
        diag = types.Diagnostic(range=rng(2500, 4, 2500, 12), message="undefined name", source="lint")
        doc = types.TextDocumentIdentifier(uri=path.as_uri())
        fix_ms, sel_ms, resolve_ms = [], [], []
        for i in range(n):
            t = time.perf_counter()
            fixes = await client.client.text_document_code_action_async(types.CodeActionParams(
                text_document=doc, range=rng(2500, 5, 2500, 5), context=types.CodeActionContext(diagnostics=[diag])))
            fix_ms.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            sel = await client.client.text_document_code_action_async(types.CodeActionParams(
                text_document=doc, range=rng(1000, 0, 1400, 0), context=types.CodeActionContext(diagnostics=[])))
            sel_ms.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            await client.client.code_action_resolve_async(sel[i % len(sel)])
            resolve_ms.append((time.perf_counter() - t) * 1000)
            assert fixes and len(sel) == 4
    finally:
        await client.stop()
        subprocess.run([DALS, "down"], env=env, capture_output=True, timeout=60)
    print(f"machine: {machine()}\ncommand: .venv/bin/python bench/code_actions.py --n {n}\n")
    print(f"initialize round trip (process start to InitializeResult): {init_ms:.0f} ms\n")
    print("| request (5,000-line file) | n | p50 ms | p95 ms | max ms |\n|---|---|---|---|---|")
    for name, xs in (("codeAction, diagnostic in range", fix_ms), ("codeAction, 400-line selection", sel_ms),
                     ("codeAction/resolve (prompt with context)", resolve_ms)):
        print(f"| {name} | {len(xs)} | {median(xs):.2f} | {pct(xs, 95):.2f} | {max(xs):.2f} |")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=300)
    asyncio.run(main(ap.parse_args().n))
