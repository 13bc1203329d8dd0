"""`dals run` and `dals tasks` as a user runs them: real subprocesses against the real runtime."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import time

import pytest

from dals.agent.models import HOW_TO_SET
from tests.support.runtime import DALS, FORCE_REPLAY, wait_for

PLAN = "\n".join(
    [
        "Make the greeting louder",
        '/read_file {"path": "app.py"}',
        '/edit_file {"path": "app.py", "old": "hello", "new": "HELLO"}',
        '/run_command {"command": "echo ran >> side.log"}',
    ]
)


def dals(env: dict, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([DALS, *args], env=env, capture_output=True, text=True, timeout=timeout)


def event_lines(stdout: str) -> list[tuple[int, str, str]]:
    found = [re.match(r"^#(\d+) (\w+) (.*)$", line) for line in stdout.splitlines()]
    return [(int(m[1]), m[2], m[3]) for m in found if m]


def task_id_of(stdout: str) -> str:
    m = re.search(r"^task (\S+) started", stdout, re.M)
    assert m, stdout
    return m[1]


def listed(runtime, *args: str) -> list[dict]:
    r = runtime.dals("tasks", "--json", *args)
    data = json.loads(r.stdout)  # stdout is exactly one JSON object
    assert set(data) == {"tasks"}
    return data["tasks"]


@pytest.fixture
def workspace(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "app.py").write_text("print('hello')\n")
    return ws


@pytest.fixture(scope="module")
def planned_run(runtime, tmp_path_factory):
    ws = tmp_path_factory.mktemp("cli") / "ws"
    ws.mkdir()
    (ws / "app.py").write_text("print('hello')\n")
    r = runtime.dals("run", PLAN, "--workspace", str(ws), check=False)
    return r, ws


@pytest.mark.live  # a normal run replays nothing: 0 replayed requests in the ledger
def test_run_follows_a_plan_to_success(planned_run):
    r, ws = planned_run
    assert r.returncode == 0, r.stdout + r.stderr
    events = event_lines(r.stdout)
    assert [seq for seq, _, _ in events] == list(range(1, len(events) + 1))
    kinds = [kind for _, kind, _ in events]
    assert kinds.count("model") == 4 and kinds.count("tool") == 2 and kinds.count("edit") == 1
    assert events[-1][1:] == ("status", "Task succeeded")
    assert (ws / "app.py").read_text() == "print('HELLO')\n"
    assert (ws / "side.log").read_text() == "ran\n"
    assert "succeeded: Plan done: 3 steps" in r.stdout
    replayed = r"[1-9][\d,]*" if FORCE_REPLAY else "0"  # forced replay answers from the journal at every step
    assert re.search(
        r"^ledger: 4 model requests \(\d[\d,]* in / \d[\d,]* out tokens\) · 3 tool calls · " + replayed + " replayed",
        r.stdout,
        re.M,
    ), r.stdout


def test_tasks_json_lists_the_finished_task(runtime, planned_run):
    task_id = task_id_of(planned_run[0].stdout)
    mine = [t for t in listed(runtime) if t["taskId"] == task_id]
    assert len(mine) == 1
    t = mine[0]
    assert t["status"] == "succeeded" and t["title"] == "Make the greeting louder"
    assert t["usage"]["requests"] == 4 and (t["usage"]["replayedRequests"] > 0) == FORCE_REPLAY and t["steps"] == 7
    assert task_id in [t["taskId"] for t in listed(runtime, "--status", "succeeded")]
    assert task_id not in [t["taskId"] for t in listed(runtime, "--status", "failed", "--status", "running")]


def test_tasks_table_has_the_task_and_totals(runtime, planned_run):
    task_id = task_id_of(planned_run[0].stdout)
    out = runtime.dals("tasks").stdout
    row = next(line for line in out.splitlines() if line.startswith(task_id))
    assert "succeeded" in row and "Make the greeting louder" in row
    n = len(listed(runtime))
    assert re.search(rf"^{n} tasks · \d+ model requests · [\d,]+ in / [\d,]+ out tokens( · .*)?$", out, re.M), out


def test_tasks_rejects_an_unknown_status(runtime):
    r = runtime.dals("tasks", "--status", "sleeping", check=False)
    assert r.returncode == 2 and "unknown status 'sleeping'" in r.stderr


def test_run_with_file_passes_its_path_to_the_task(runtime, workspace):
    r = runtime.dals(
        "run", "Explain the greeting", "--workspace", str(workspace), "--file", str(workspace / "app.py"), check=False
    )
    assert r.returncode == 0, r.stdout + r.stderr
    # the offline model's built-in behaviour edits the file the task was started on
    assert (workspace / "app.py").read_text() == "# DALS: Explain the greeting\nprint('hello')\n"


def test_run_without_a_model_says_how_to_set_one(runtime, workspace):
    env = {k: v for k, v in runtime.env.items() if k != "DALS_MODEL"}
    r = dals(env, "run", PLAN, "--workspace", str(workspace))
    assert r.returncode == 2
    assert HOW_TO_SET in r.stderr and "started" not in r.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "nonsense:model-x"], "model 'nonsense:model-x' refused"),
        (["--workspace", "/nonexistent/dals-ws"], "is not a directory"),
        (["--file", "/etc/passwd"], "is not inside the workspace"),
    ],
)
def test_run_refuses_bad_arguments_before_starting(runtime, workspace, args, message):
    r = dals(runtime.env, "run", PLAN, "--workspace", str(workspace), *args)
    assert r.returncode == 2, r.stdout + r.stderr
    assert message in r.stderr and "started" not in r.stdout


def test_run_refuses_a_malformed_offline_plan(runtime, workspace):
    r = runtime.dals("run", 'Broken\n/read_file {"path": app.py}', "--workspace", str(workspace), check=False)
    assert r.returncode == 2
    assert "plan line 2: invalid JSON arguments for /read_file" in r.stderr and "started" not in r.stdout


def test_a_failing_task_exits_1_with_the_reason(runtime, workspace):
    if "ANTHROPIC_API_KEY" in runtime.env:
        pytest.skip("the worker has an Anthropic key: the task would not fail")
    # The CLI has a key, the worker does not: the task starts, then fails in the worker.
    r = dals(
        dict(runtime.env, ANTHROPIC_API_KEY="cli-only"),
        "run",
        "Say hi",
        "--workspace",
        str(workspace),
        "--model",
        "anthropic:claude-sonnet-4-5",
    )
    assert r.returncode == 1, r.stdout + r.stderr
    task_id = task_id_of(r.stdout)
    assert re.search(rf"^task {task_id} failed: .*ANTHROPIC_API_KEY", r.stdout, re.M), r.stdout
    assert event_lines(r.stdout)[-1][1] == "status"
    assert task_id in [t["taskId"] for t in listed(runtime, "--status", "failed")]


def test_ctrl_c_stops_following_not_the_task(runtime, workspace):
    plan = "Slow\n" + '/run_command {"command": "touch started && sleep 6 && echo slept >> slow.log"}'
    # A suite started in the background (`make test &`, CI runners) inherits SIGINT ignored, and so
    # would `dals run`: give it the disposition a terminal's Ctrl-C meets.
    proc = subprocess.Popen(
        [DALS, "run", plan, "--workspace", str(workspace)],
        env=runtime.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        seen = ""
        deadline = time.monotonic() + 120
        while "Model: run_command" not in seen:  # the command is in flight now
            assert time.monotonic() < deadline, f"no model event: {seen}"
            ready, _, _ = select.select([proc.stdout], [], [], 1.0)
            if ready:
                line = proc.stdout.readline()
                assert line, f"dals run ended early: {seen}{proc.stderr.read()}"
                seen += line
        # the command runs now (6 s of it left): a loaded machine cannot finish the task first
        wait_for(lambda: (workspace / "started").exists(), 60, "the command to start", interval=0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    task_id = task_id_of(seen)
    assert f"task {task_id} keeps running; follow it with `dals tasks`" in err
    done = wait_for(
        lambda: [t for t in listed(runtime) if t["taskId"] == task_id and t["status"] == "succeeded"],
        60,
        "the task to finish on its own",
        interval=0.25,
    )
    assert done and (workspace / "slow.log").read_text() == "slept\n"


def test_run_draws_a_progress_bar_on_a_tty_and_plain_lines_otherwise(runtime, workspace, planned_run):
    r, _ = planned_run  # stdout and stderr were pipes: one line per event, no bar
    assert "\r" not in r.stdout + r.stderr and "[#" not in r.stderr and event_lines(r.stdout)
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            [DALS, "run", PLAN, "--workspace", str(workspace)],
            env=runtime.env,
            stdout=subprocess.PIPE,
            stderr=slave,
            text=True,
        )
        os.close(slave)
        out, _ = proc.communicate(timeout=120)
        tty = b""
        while select.select([master], [], [], 0.2)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the pty closes with the process
                break
            if not chunk:
                break
            tty += chunk
    finally:
        os.close(master)
    assert proc.returncode == 0, out
    assert not event_lines(out), out  # events went to the bar, not to stdout
    bars = re.findall(r"\r\x1b\[K\[([#-]{10})\] (\d+) steps · ([^\r]*)", tty.decode())
    assert len(bars) >= 5, tty
    assert bars[-1][0] == "#" * 10 and bars[-1][2].startswith("Task succeeded"), bars[-1]
    assert "ledger: 4 model requests" in out
