"""Editor responsiveness: `textDocument/codeAction` and `codeAction/resolve` latency on a
5,000-line file, measured at a real LSP client talking to `dals lsp` over stdio.

    .venv/bin/python bench/code_actions.py [--n 300 | --quick]

Code actions are built from the request alone (no Restate round trip): this measures the server's
own cost plus JSON-RPC over stdio. The runtime runs in a temporary state dir (bench/harness.py)
and every process is stopped by pid at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from harness import lsp_range as rng  # noqa: E402


async def main(n: int) -> None:
    from lsprotocol import types

    ws = h.make_workspace()
    path = h.big_python_file(ws)  # 5,000 lines
    text = path.read_text()
    with h.private_runtime():
        async with h.lsp_client(ws) as client:
            init_ms = client.init_ms
            client.client.text_document_did_open(
                types.DidOpenTextDocumentParams(
                    text_document=types.TextDocumentItem(uri=path.as_uri(), language_id="python", version=1, text=text)
                )
            )
            diag = types.Diagnostic(range=rng(2500, 4, 2500, 12), message="undefined name", source="lint")
            doc = types.TextDocumentIdentifier(uri=path.as_uri())
            fix_ms, sel_ms, resolve_ms = [], [], []
            for i in range(n):
                t = time.perf_counter()
                fixes = await client.client.text_document_code_action_async(
                    types.CodeActionParams(
                        text_document=doc,
                        range=rng(2500, 5, 2500, 5),
                        context=types.CodeActionContext(diagnostics=[diag]),
                    )
                )
                fix_ms.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                sel = await client.client.text_document_code_action_async(
                    types.CodeActionParams(
                        text_document=doc, range=rng(1000, 0, 1400, 0), context=types.CodeActionContext(diagnostics=[])
                    )
                )
                sel_ms.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                await client.client.code_action_resolve_async(sel[i % len(sel)])
                resolve_ms.append((time.perf_counter() - t) * 1000)
                assert fixes and len(sel) == 4
    print(f"machine: {h.machine()}\ncommand: .venv/bin/python bench/code_actions.py --n {n}\n")
    print(f"initialize round trip (process start to InitializeResult): {init_ms:.0f} ms\n")
    print(
        h.table(
            ["request (5,000-line file)", "n", "p50 ms", "p95 ms", "max ms"],
            [
                h.summary_row("codeAction, diagnostic in range", fix_ms),
                h.summary_row("codeAction, 400-line selection", sel_ms),
                h.summary_row("codeAction/resolve (prompt with context)", resolve_ms),
            ],
        )
    )


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--quick", action="store_true", help="--n 100")
    a = ap.parse_args()
    asyncio.run(main(100 if a.quick else a.n))
