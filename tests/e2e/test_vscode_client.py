"""The VS Code client (editor-clients/vscode): its own `npm test`, run from here.

`npm test` compiles the extension with tsc and runs its node tests: the task store, event folding,
labels, diff application, the manifest, and a round trip with a real `dals lsp` (offline model,
temporary state dir). VS Code itself cannot run here; code-server covers that separately.
This wrapper gives the round trip this venv's `dals`, stops the runtime even if npm is killed,
and asserts on the test counts.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXTENSION = REPO / "editor-clients" / "vscode"
DALS = Path(sys.executable).parent / "dals"
NPM_TIMEOUT = 540

pytestmark = pytest.mark.restate


def _run(cmd: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Run in its own process group, so that a timeout stops npm, node and `dals lsp` together."""
    proc = subprocess.Popen(
        cmd, cwd=EXTENSION, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(f"{' '.join(cmd)} did not finish within {timeout:.0f} s:\n{out[-6000:]}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, "")


@pytest.mark.timeout(NPM_TIMEOUT + 120)
def test_vscode_client_npm_test(tmp_path):
    npm, node = shutil.which("npm"), shutil.which("node")
    if not npm or not node:
        pytest.skip("node and npm not found on PATH: the VS Code client's tests need Node 20 and npm")
    assert DALS.exists(), f"no dals next to {sys.executable}"
    env = dict(
        os.environ,
        DALS_BIN=str(DALS),
        DALS_TEST_STATE_DIR=str(tmp_path / "state"),
        npm_config_fund="false",
        npm_config_audit="false",
        npm_config_update_notifier="false",
    )
    env.pop("DALS_STATE_DIR", None)
    if not (EXTENSION / "node_modules").is_dir():
        ci = _run([npm, "ci"], env, 300)
        assert ci.returncode == 0, f"npm ci failed:\n{ci.stdout[-6000:]}"
    try:
        result = _run([npm, "test"], env, NPM_TIMEOUT)
    finally:
        down = subprocess.run(
            [str(DALS), "down"],
            env=dict(os.environ, DALS_STATE_DIR=str(tmp_path / "state")),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert down.returncode == 0, down.stderr
    out = result.stdout
    counts = {k: int(v) for k, v in re.findall(r"^ℹ (tests|pass|fail|skipped|cancelled|todo) (\d+)$", out, re.M)}
    assert result.returncode == 0 and counts.get("fail") == 0, f"npm test failed:\n{out[-8000:]}"
    assert counts.get("tests", 0) >= 40 and counts.get("cancelled") == 0, counts
    assert counts["pass"] + counts.get("skipped", 0) == counts["tests"], counts
    assert re.search(r"✔ a task on a file: the store ends succeeded", out), "the round trip did not pass"
    if counts.get("skipped"):
        reasons = re.findall(r"# SKIP (.*)$", out, re.M) or ["(see npm test output)"]
        pytest.skip(f"{counts['skipped']} VS Code client test(s) skipped: {'; '.join(reasons)}")
