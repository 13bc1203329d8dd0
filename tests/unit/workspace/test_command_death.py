"""Guarantee 2: a command dies with the worker that runs it (kill -9, for real).

A driver process plays the worker: it calls run_command with a command that
spawns a background subshell, a setsid'd process and a double-forked one.
Once all of them run, the driver is SIGKILLed; none of them may finish.
"""

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

DRIVER = textwrap.dedent("""
    import asyncio, sys
    from pathlib import Path
    from dals.workspace.shell import ShellState, run_command

    asyncio.run(run_command(Path(sys.argv[1]), sys.argv[2], ShellState(), timeout_s=60))
""")

COMMAND = textwrap.dedent("""
    echo $PPID > pid_reaper; echo $$ > pid_bash
    (sleep 2; echo x > marker2) & echo $! > pid_bg
    setsid sh -c 'echo $$ > pid_setsid; sleep 2; echo y > marker3' &
    sh -c 'sh -c "echo \\$\\$ > pid_double; sleep 2; echo z > marker4" &'
    while [ ! -s pid_setsid ] || [ ! -s pid_double ]; do sleep 0.01; done
    touch started
    sleep 2; echo done > marker
""")

# The worker's threads exit one by one when it is killed. Here the event-loop thread, which
# started the reaper, exits alone first (a raw exit syscall ends only the calling thread), so
# the kernel re-parents the reaper to the sibling thread, same pid, and signals it then.
THREAD_FIRST_DRIVER = textwrap.dedent("""
    import asyncio, ctypes, os, sys, threading, time
    from pathlib import Path
    from dals.workspace.shell import ShellState, run_command

    SYS_EXIT = {"x86_64": 60, "aarch64": 93}[os.uname().machine]
    root = Path(sys.argv[1])

    def end_the_loop_thread_once_started():
        while not (root / "go").exists():  # the test's signal, once it saw the scratch dir
            time.sleep(0.01)
        loop.call_soon_threadsafe(lambda: ctypes.CDLL(None).syscall(SYS_EXIT, 0))
        time.sleep(3600)

    loop = asyncio.new_event_loop()
    threading.Thread(target=end_the_loop_thread_once_started).start()
    loop.run_until_complete(run_command(root, sys.argv[2], ShellState(), timeout_s=60))
""")

PID_FILES = ("pid_reaper", "pid_bash", "pid_bg", "pid_setsid", "pid_double")
MARKERS = ("marker", "marker2", "marker3", "marker4")


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def processes_in(root: Path) -> list[int]:
    """Live processes whose cwd is inside `root` (every process of the tree's is)."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit() and alive(int(name)):
            try:
                cwd = os.readlink(f"/proc/{name}/cwd")
            except OSError:
                continue
            if cwd == str(root) or cwd.startswith(f"{root}/"):
                found.append(int(name))
    return found


def scratch_dirs_of(root: Path) -> list[Path]:
    """run_command's scratch dirs whose script runs in `root`."""
    found = []
    for scratch in Path(tempfile.gettempdir()).glob("dals-cmd-*"):
        try:
            if str(root) in (scratch / "script").read_text():
                found.append(scratch)
        except OSError:
            continue
    return found


@contextlib.contextmanager
def running_command(tmp_path, driver_source: str):
    """A driver process playing the worker, running COMMAND in `root`; yields (root, process) once
    the command has started, and kills the driver by pid at the end."""
    root = (tmp_path / "ws").resolve()
    root.mkdir()
    driver = tmp_path / "driver.py"
    driver.write_text(driver_source)
    worker = subprocess.Popen([sys.executable, str(driver), str(root), COMMAND], stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not (root / "started").exists():
            assert time.monotonic() < deadline, "the command never started"
            assert worker.poll() is None, "the worker exited early"
            time.sleep(0.01)
        assert scratch_dirs_of(root) != []
        yield root, worker
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


def test_command_tree_dies_with_its_worker(tmp_path):
    with running_command(tmp_path, DRIVER) as (root, worker):
        pids = {name: int((root / name).read_text()) for name in PID_FILES}
        assert all(alive(pid) for pid in pids.values())
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(5)
        # The tree must be gone well before the commands would have finished (they sleep 2 s)...
        deadline = time.monotonic() + 1.5
        while any(alive(pid) for pid in pids.values()) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert {name: pid for name, pid in pids.items() if alive(pid)} == {}
        time.sleep(3)  # ...and, had anything survived, it would have written its marker by now
        assert [m for m in MARKERS if (root / m).exists()] == []
        assert processes_in(root) == []
        deadline = time.monotonic() + 10  # the reaper's clean-up of its scratch dir, under load
        while scratch_dirs_of(root) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert scratch_dirs_of(root) == []


def test_scratch_dir_goes_when_the_loop_thread_dies_before_the_others(tmp_path):
    with running_command(tmp_path, THREAD_FIRST_DRIVER) as (root, worker):
        reaper = int((root / "pid_reaper").read_text())
        (root / "go").touch()
        deadline = time.monotonic() + 10
        while alive(reaper) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not alive(reaper), "the reaper outlived the thread that started it"
        assert worker.poll() is None, "the sibling thread keeps the worker's pid alive"
        assert scratch_dirs_of(root) == []
