"""The agent tools of the contract in a real task (`dals run`, real runtime): what the model gets.

The model is the OpenAI double, so every tool result is read back from the requests the model
received: a 2.3 MB file read whole (refused, with how to read a range) and in a range, a search
that reaches the last line of a 37 MB log and names a binary match, a refused pattern,
replace_all, multi_edit, and diagnostics with no editor attached.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.support.openai_double import conversation_key
from tests.support.runtime import DALS

PLAN = "\n".join(
    [
        "Exercise the agent tools",
        '/read_file {"path": "huge.txt"}',
        '/read_file {"path": "huge.txt", "offset": 150000, "limit": 2}',
        '/search {"pattern": "needle"}',
        '/search {"pattern": "needle("}',
        '/edit_file {"path": "app.py", "old": "count", "new": "total", "replace_all": true}',
        '/multi_edit {"path": "app.py", "edits": [{"old": "total = 0", "new": "total = 10"},'
        ' {"old": "print(total)", "new": "print(total * 2)"}]}',
        '/multi_edit {"path": "app.py", "edits": [{"old": "total", "new": "n"}]}',
        "/diagnostics {}",
    ]
)


@pytest.fixture
def workspace(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "app.py").write_text("count = 0\ncount += 1\nprint(count)\n")
    (ws / "huge.txt").write_text("".join(f"line {i}\n" for i in range(1, 200_001)))
    with open(ws / "service.log", "wb") as f:
        f.write(b"2026-12-07 INFO request served in 12 ms\n" * 925_000 + b"2026-12-07 ERROR needle\n")
    (ws / "blob.bin").write_bytes(os.urandom(512) + b"\x00needle\x00")
    return ws


def test_tool_results_the_model_receives(runtime, model_double, workspace):
    assert (workspace / "service.log").stat().st_size > 37_000_000
    env = dict(runtime.env, DALS_MODEL="openai-chat:double")
    r = subprocess.run(
        [DALS, "run", PLAN, "--workspace", str(workspace)], env=env, capture_output=True, text=True, timeout=240
    )
    assert r.returncode == 0, r.stdout + r.stderr
    key = conversation_key(PLAN)
    last = [q for q in model_double.requests if q["key"] == key][-1]
    results = [m["content"] for m in last["messages"] if m.get("role") == "tool"]
    assert len(results) == 8, results
    whole, ranged, found, refused, renamed, multi, ambiguous, diagnostics = results
    assert (
        whole.startswith("error: 'huge.txt' is 2288895 bytes, over the 1000000-byte limit")
        and "offset=1, limit=2000" in whole
    )
    assert ranged == (
        "150000\tline 150000\n150001\tline 150001\n"
        "[huge.txt: 200000 lines; lines 150000-150001 of 200000; read on with offset=150002]"
    )
    assert found == (
        "service.log:925001: 2026-12-07 ERROR needle\nblob.bin: binary file matches (its bytes are not shown)"
    )
    assert refused.startswith("error: invalid pattern 'needle(': regex parse error")
    assert renamed == "edited app.py" and multi == "edited app.py"
    assert ambiguous.startswith("error: old text occurs 3 times in app.py") and "replace_all" in ambiguous
    assert diagnostics.startswith("no editor attached")
    assert (workspace / "app.py").read_text() == "total = 10\ntotal += 1\nprint(total * 2)\n"
