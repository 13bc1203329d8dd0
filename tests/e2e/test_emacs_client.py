"""The Emacs client (editor-clients/emacs/dals.el) in a real `emacs --batch` with eglot, against a
real `dals lsp`.

The Emacs Lisp script (editor-clients/emacs/test/dals-e2e.el) writes a JSON result. This wrapper
runs it once per module with a timeout, stops the runtime that the server started (`dals down`
for the same DALS_STATE_DIR), and asserts on the result. The unit tests (test/dals-test.el, ERT)
run in their own Emacs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.runtime import Runtime, pid_alive

REPO = Path(__file__).resolve().parents[2]
CLIENT = REPO / "editor-clients" / "emacs"
DALS = Path(sys.executable).parent / "dals"
EMACS = shutil.which("emacs")
EMACS_TIMEOUT = 240
SKIP_REASON = (
    "emacs is not installed: `apt-get install -y emacs-nox elpa-eglot` "
    "(the client is tested with Emacs 28.2 and eglot 1.9)"
)

pytestmark = pytest.mark.skipif(EMACS is None, reason=SKIP_REASON)


def _emacs_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DALS_", "EMACS"))}
    env.update(extra)
    return env


def _run_emacs(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    """Run Emacs in its own process group; on timeout kill that group (Emacs and its `dals lsp`)."""
    proc = subprocess.Popen(
        [EMACS, "--batch", "-Q", *args],
        env=env,
        cwd=cwd,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=EMACS_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"emacs did not finish within {EMACS_TIMEOUT}s\nstdout:\n{out}\nstderr:\n{err[-4000:]}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_emacs_unit_tests(tmp_path):
    done = _run_emacs(
        ["-l", str(CLIENT / "test" / "dals-test.el"), "-f", "ert-run-tests-batch-and-exit"], _emacs_env(), tmp_path
    )
    assert done.returncode == 0, done.stderr[-6000:]
    assert re.search(r"Ran (\d+) tests, \1 results as expected, 0 unexpected", done.stderr), done.stderr[-3000:]


UNI = 's = "héllo wörld 😀 café"\nt = 1\n'
CRLF = "one\r\ntwo é 😀\r\nthree".encode()  # no final newline


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One Emacs session through the whole flow; yields (result, workspace)."""
    if EMACS is None:
        pytest.skip(SKIP_REASON)
    tmp = tmp_path_factory.mktemp("emacs-client")
    ws = tmp / "project"
    (ws / ".venv" / "bin").mkdir(parents=True)
    # dals.el prefers <project>/.venv/bin/dals; there is no `dals` on PATH in this test.
    (ws / ".venv" / "bin" / "dals").symlink_to(DALS)
    (ws / ".gitignore").write_text(".venv/\n")
    (ws / "app.py").write_text("def greet():\n    return 'hello'\n")
    (ws / "b.py").write_text("def b():\n    return 'b'\n")
    (ws / "c.py").write_text("def c():\n    return 'c'\n")
    (ws / "notes.txt").write_text("Some notes.\n")
    (ws / "uni.txt").write_text(UNI)
    (ws / "crlf.txt").write_bytes(CRLF)
    state = tmp / "state"
    result_file = tmp / "result.json"
    env = _emacs_env(DALS_E2E_WORKSPACE=str(ws), DALS_E2E_STATE_DIR=str(state), DALS_E2E_RESULT=str(result_file))
    runtime = Runtime(state)
    try:
        done = _run_emacs(["-l", str(CLIENT / "test" / "dals-e2e.el")], env, ws)
    finally:
        runtime.status()  # remember the pids, to check they are gone after `dals down`
        runtime.down()
    still_alive = [pid for pid in runtime.pids if pid_alive(pid)]
    assert not still_alive, f"runtime processes still alive after `dals down`: {still_alive}"
    assert runtime.pids, "the runtime never started (no pids in `dals status`)"
    assert done.returncode == 0, done.stderr[-6000:]
    result = json.loads(result_file.read_text())
    assert "error" not in result, (
        f"{result['error']}\n--- server stderr ---\n{result.get('server_stderr', '')}"
        f"\n--- emacs stderr ---\n{done.stderr[-4000:]}"
    )
    yield result, ws


def test_emacs_runs_a_task_and_lists_it(run):
    result, ws = run
    # DALS connects beside the buffer's own server and is found from the buffer
    assert result["server_class"] == "eglot-dals"
    assert result["executable"] == str(ws / ".venv" / "bin" / "dals")
    assert Path(result["project_root"]).resolve() == ws.resolve()
    assert "dals.startTask" in result["commands"]
    assert result["buffer_managed_by_dals"] is False
    assert result["server_found_from_buffer"] is True

    # the task finished, seen through dals/taskEvent notifications: seq 1..N, no gap, no duplicate
    task_id = result["task_id"]
    assert result["status"] == "succeeded"
    assert result["seqs"] == list(range(1, len(result["seqs"]) + 1)) and len(result["seqs"]) == 9
    assert result["kinds"][0] == "status" and result["kinds"][1] == "message" and "edit" in result["kinds"]

    # a follow-up from the tasks buffer (`m` on the task's line): the same task's next turn, its
    # events going on; then its transcript
    assert result["follow_up_from_line"] == result["task_id"], result["follow_up_from_line"]
    assert result["follow_up_turn"] == 2 and result["follow_up_status"] == "succeeded"
    assert result["follow_up_seqs"] == list(range(1, len(result["follow_up_seqs"]) + 1))
    assert "## You (follow-up, turn 2)\n\n> What is in here?" in result["transcript_text"], result["transcript_text"]

    # the file changed; the buffer was reverted on the edit event, and again by hand
    assert result["file_first_line"] == "# DALS: Explain"
    assert result["buffer_first_line"] == "# DALS: Explain"
    assert result["reverted_first_line"] == "# DALS: Explain"

    # $/progress drove the mode line while the task ran, and it is clear now
    assert " DALS[1 running]" in result["lighters"], result["lighters"]
    assert result["lighter_after"] == ""

    # the tasks buffer lists it: id, status, steps, requests, title
    assert result["tasks_mode"] == "dals-tasks-mode"
    for column in ("ID", "Status", "Steps", "Requests", "Title"):
        assert column in result["tasks_header"]
    assert re.search(rf"{task_id}\s+succeeded\s+5\s+3\s+Explain", result["tasks_text"]), result["tasks_text"]
    assert result["tasks_id_at_point"] == task_id

    # a server code action on the region, run through dals-code-action
    assert result["code_action_status"] == "succeeded"
    assert result["code_action_first_line"].startswith("# DALS: Explain the selected code")
    assert "def greet():" in result["code_action_prompt"]
    # "Undo Task's Edits" of it from Emacs: previewed, then app.py back as before that task; twice: nothing
    assert result["undo_preview"] == ["app.py"] and result["undo_reverted"] == ["app.py"]
    assert result["undo_again"] == 0
    assert result["undo_first_line"] == "# DALS: Explain"
    assert (ws / "app.py").read_text().splitlines()[:2] == ["# DALS: Explain", "def greet():"]

    # its events, resume of a finished task, cancel of a running one
    assert "Task succeeded" in result["task_text"] and "write_file app.py" in result["task_text"]
    assert result["resume_status"] == "succeeded"
    assert result["cancelled_status"] == "cancelled"


def test_emacs_answers_approvals(run):
    result, ws = run
    if result["approval"] == "skipped":
        pytest.skip(f"the server does not support approvals yet: {result['approval_reason']}")
    assert result["approval"] == "done", result
    assert result["pending_action"] == "edit"
    assert result["diff_buffer_mode"] == "diff-mode"
    assert "+# DALS: Review me" in result["diff_text"]
    assert result["b_first_line_while_waiting"] == "def b():"
    assert "1 waiting" in result["lighter_while_waiting"]
    assert result["approved_status"] == "succeeded"
    assert result["b_first_line"] == "# DALS: Review me"
    assert result["approved_seqs"] == list(range(1, len(result["approved_seqs"]) + 1))
    assert result["rejected_status"] in ("succeeded", "failed")
    assert result["c_first_line"] == "def c():"
    assert (ws / "c.py").read_text().startswith("def c():")


def test_emacs_eglot_entry_manages_a_buffer(run):
    """M-x eglot in a text-mode buffer starts DALS from eglot-server-programs (the fallback entry)."""
    result, ws = run
    assert result["managed_server_class"] == "eglot-dals"
    assert result["managed_server_is_new"] is True and result["managed_server_used"] is True
    assert result["managed_status"] == "succeeded"
    assert result["managed_buffer_first_line"] == "# DALS: Explain"
    if result["managed_edit_via"] == "editor":
        # routed through workspace/applyEdit into the buffer, which the user saves
        assert result["managed_file_first_line"] == "Some notes."
    else:
        assert result["managed_file_first_line"] == "# DALS: Explain"

    # every task of the session, newest first, in the tasks buffer
    rows = result["tasks_text_final"].splitlines()
    titles = [re.split(r"\s+", row.strip(), maxsplit=4)[4] for row in rows]
    assert len(rows) == 6, rows
    assert titles[0] == "Explain" and titles[-1] == "Explain", titles
    assert any(re.search(r"cancelled\s+\d+\s+\d+\s+Wait$", row) for row in rows), rows


def test_emacs_edits_land_exactly_in_utf16_and_crlf_buffers(run):
    """Issue 17: eglot 1.9 sends no `general.positionEncodings`, so the server uses LSP's default,
    UTF-16 (which eglot counts in). A task's edits after `é`, `ö` and `😀` on one line, and in a
    CRLF file without a final newline (Emacs holds it with LF and writes CRLF back), leave the
    buffer exactly as expected."""
    result, ws = run
    assert result["enc_managed"] is True
    assert result["enc_negotiated"] == "utf-16"
    assert result["uni_status"] == "succeeded"
    assert result["uni_buffer"] == 's = "héllo world 😀 coffee ☕"\nt = 1\n'
    assert result["uni_modified"] is True and (ws / "uni.txt").read_text() == UNI  # in the buffer only
    assert result["crlf_eol_type"] == 1 and result["crlf_eol_type_after"] == 1  # dos, before and after
    assert result["crlf_status"] == "succeeded"
    assert result["crlf_buffer"] == "one\ntwo é 😀 and\na half\nthree 3"
    assert (ws / "crlf.txt").read_bytes() == "one\r\ntwo é 😀 and\r\na half\r\nthree 3".encode()
