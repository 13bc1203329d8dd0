"""Child processes of the supervisor: start with a log file, tell alive, stop politely then hard.
`Child` is a process of its own (the Restate server, the fork server); `ForkedChild` one the fork
server forks (the workers: `zygote.py`), watched through a pidfd since it is not ours.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import time
from pathlib import Path

from ..local.pids import pid_alive
from . import zygote


class Child:
    """One supervised process (the Restate server or the worker)."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        log: Path,
        env: dict[str, str] | None = None,
        stop_signal: int = signal.SIGTERM,
        cwd: Path | None = None,
        nice: int = 0,
    ):
        self.name = name
        self.nice = nice
        self.argv = argv
        self.log = log
        self.env = env
        self.stop_signal = stop_signal
        self.cwd = cwd
        self.proc: subprocess.Popen | None = None
        self.starts = 0
        self.started = 0.0  # time.monotonic() of the last start

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self) -> int:
        log = open(self.log, "ab", buffering=0)
        log.write(f"\n--- {time.strftime('%Y-%m-%dT%H:%M:%S')} starting {self.name}: {' '.join(self.argv)}\n".encode())
        argv = self.argv
        nice_bin = shutil.which("nice") if self.nice > 0 else None
        if nice_bin:  # `nice` execs the command: same pid (not preexec_fn: unsafe once any thread runs)
            argv = [nice_bin, "-n", str(self.nice), *argv]
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=self.cwd,
            close_fds=True,
        )
        log.close()
        self.starts += 1
        self.started = time.monotonic()
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def exit_code(self) -> int | None:
        return self.proc.poll() if self.proc else None

    def stop(self, timeout: float = 10.0) -> None:
        if not self.alive():
            return
        assert self.proc is not None
        try:
            self.proc.send_signal(self.stop_signal)
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        except ProcessLookupError:
            pass


class ForkedChild:
    """A worker process forked by the fork server of `state_dir`: same interface as `Child`."""

    def __init__(
        self,
        name: str,
        role: str,
        args: dict,
        state_dir: Path,
        log: Path,
        env: dict[str, str],
        stop_signal: int = signal.SIGTERM,
        nice: int = 0,
    ):
        self.name = name
        self.role, self.args, self.state_dir = role, args, state_dir
        self.log = log
        self.env = env
        self.stop_signal = stop_signal
        self.nice = nice
        self.forked: zygote.Forked | None = None
        self.pidfd: int | None = None
        self.code: int | None = None
        self.starts = 0
        self.started = 0.0

    @property
    def pid(self) -> int | None:
        return self.forked.pid if self.forked else None

    def start(self) -> int:
        """Fork it; raises zygote.ZygoteUnavailable when no fork server answers."""
        self._release()
        log = os.open(self.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.write(
            log, f"\n--- {time.strftime('%Y-%m-%dT%H:%M:%S')} forking {self.name}: {self.role} {self.args}\n".encode()
        )
        stdin_r = os.open(os.devnull, os.O_RDONLY)
        try:
            self.forked = zygote.fork(
                self.state_dir,
                self.role,
                self.args,
                fds=(stdin_r, log, log),
                env=self.env,
                cwd=str(self.state_dir),
                nice=self.nice,
                name=f"dals {self.role}",
            )
        except zygote.ZygoteUnavailable:
            self._release()
            raise
        finally:
            os.close(stdin_r)
            os.close(log)
        self.code = None
        try:
            self.pidfd = os.pidfd_open(self.forked.pid)
        except ProcessLookupError:
            self.pidfd = None  # gone already
        self.starts += 1
        self.started = time.monotonic()
        return self.forked.pid

    def alive(self) -> bool:
        if self.pidfd is None:
            return False
        readable, _, _ = select.select([self.pidfd], [], [], 0)
        if not readable:
            return True
        self._collect()
        return False

    def exit_code(self) -> int | None:
        if self.alive():
            return None
        return self.code

    def stop(self, timeout: float = 10.0) -> None:
        if self.alive():
            assert self.pidfd is not None and self.pid is not None
            try:
                os.kill(self.pid, self.stop_signal)
                if not select.select([self.pidfd], [], [], timeout)[0]:
                    os.kill(self.pid, signal.SIGKILL)
                    select.select([self.pidfd], [], [], 5.0)
            except ProcessLookupError:
                pass
        self._release()

    def _collect(self) -> None:
        """It ended: its exit code from the fork server (unknown if that died too)."""
        if self.forked and self.code is None:
            self.code = self.forked.wait(timeout=1.0)
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None

    def _release(self) -> None:
        if self.pidfd is not None:
            self._collect()
        if self.forked:
            self.forked.close()


class CrashLoop:
    """Tells a child that cannot run (a bad setting, a taken port: it dies within seconds of each
    start) from one that is killed now and then after running a while. Per child name, deaths
    less than `young_s` after a start are counted; more than `limit` within `window_s` is a loop,
    worth a pause before the next start. Kills of children that had been running do not count, so
    a burst of them (a crash test killing every few seconds) costs no pause."""

    def __init__(self, young_s: float = 10.0, window_s: float = 60.0, limit: int = 10):
        self.young_s, self.window_s, self.limit = young_s, window_s, limit
        self.deaths: dict[str, list[float]] = {}

    def died(self, name: str, lived_s: float, now: float) -> bool:
        """Record a death of `name` after `lived_s` seconds; True when it is crash-looping."""
        deaths = [t for t in self.deaths.get(name, []) if now - t < self.window_s]
        if lived_s < self.young_s:
            deaths.append(now)
        self.deaths[name] = deaths
        return len(deaths) > self.limit


def kill_pid(pid: int, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.05)
    if pid_alive(pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
