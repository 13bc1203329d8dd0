"""`dals demo`, as `make demo` runs it: its own runtime, a worker killed with SIGKILL, a clean ledger."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from tests.support.runtime import DALS, pid_alive, wait_for


def test_demo_survives_kill_9_and_leaves_nothing_behind():
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DALS_STATE_DIR", "DALS_MODEL", "DALS_RESTATE_INGRESS_URL", "DALS_RESTATE_ADMIN_URL")
    }
    r = subprocess.run([DALS, "demo"], env=env, capture_output=True, text=True, timeout=240)
    out = r.stdout
    assert r.returncode == 0, out + r.stderr

    ledger = re.search(
        r"^ledger: (\d+) model requests, (\d+) re-sent; (\d+) tool calls, "
        r"(\d+) restarted after the kill, (\d+) side effects repeated$",
        out,
        re.M,
    )
    assert ledger, out
    requests, resent, tools, restarted, repeated = map(int, ledger.groups())
    assert (requests, resent, tools, repeated) == (13, 0, 12, 0), out  # 12 plan steps + the final answer
    # The killed command's restart is said once, the same way, in its own line and in the ledger.
    said = re.search(
        r"step 7's command was running at the kill and died with the worker: "
        r"it was restarted \((\d+) starts\) and its side effect landed once",
        out,
    )
    assert restarted == (int(said[1]) - 1 if said else 0) and restarted <= 1, out

    killed = re.search(r"^==> kill -9 worker pid (\d+) while its command runs", out, re.M)
    assert killed, out
    new = re.search(r"^==> the supervisor started worker pid (\d+)", out, re.M)
    assert new and new[1] != killed[1], out
    replayed = re.search(r"after the kill, (\d+) model requests were answered from the journal", out)
    assert replayed and int(replayed[1]) >= 1, out
    assert "task succeeded" in out and "demo passed" in out

    # Every process the demo started is gone, and so are its temporary files.
    pids = {int(p) for p in re.findall(r"\bpid (\d+)", out)}
    assert len(pids) >= 4, out  # restate, worker, supervisor, the restarted worker
    wait_for(lambda: not any(pid_alive(p) for p in pids), 20, f"demo processes {pids} to exit")
    state = re.search(r"state dir (\S+)\)", out)
    assert state and not Path(state[1]).parent.exists(), out
