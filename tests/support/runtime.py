"""A real DALS runtime for tests: `dals up` in a temporary state dir, stopped by pid afterwards."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from dals.local.pids import pid_alive

REPO = Path(__file__).resolve().parents[2]
# `make test-replay`: every task replays its journal after each step (model requests get replayed)
FORCE_REPLAY = os.environ.get("DALS_FORCE_REPLAY") == "1"
DALS = str(Path(sys.executable).parent / "dals")


def without_replays(usage_line: str) -> str:
    """A task's `usageLine` less its replay count, which is kept beside the journal and reported
    after the fact: under forced replay it still grows after the task's last event."""
    return re.sub(r" \([\d,]+ replayed[^)]*\)", "", usage_line)


def parent_of(pid: int) -> int | None:
    """The parent pid of `pid` (from /proc), None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(") ", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def wait_for(predicate, timeout: float, what: str, interval: float = 0.05):
    """Poll `predicate` until it returns something truthy; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Runtime:
    def __init__(self, state_dir: Path, extra_env: dict[str, str] | None = None):
        self.state_dir = state_dir
        self.env = dict(os.environ, DALS_STATE_DIR=str(state_dir), **(extra_env or {}))
        self.env.pop("DALS_RESTATE_INGRESS_URL", None)
        self.env.pop("DALS_RESTATE_ADMIN_URL", None)
        self.pids: set[int] = set()

    def dals(self, *args: str, timeout: float = 180, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([DALS, *args], env=self.env, capture_output=True, text=True, timeout=timeout, check=check)

    def up(self) -> dict:
        self.dals("up")
        st = self.status()
        self._remember(st)
        return st

    def status(self) -> dict:
        st = json.loads(self.dals("status", "--json", check=False).stdout)
        self._remember(st)
        return st

    def _remember(self, st: dict) -> None:
        for part in ("restate", "worker", "supervisor"):
            pid = (st.get(part) or {}).get("pid")
            if pid:
                self.pids.add(pid)
        self.pids.update((st.get("worker") or {}).get("pids") or [])  # DALS_WORKER_PROCESSES > 1

    def healthy_again(self, part: str, old_pid: int, timeout: float = 60) -> dict:
        def check():
            st = self.status()
            p = st[part]
            return st if p["pid"] and p["pid"] != old_pid and p["healthy"] else None

        return wait_for(check, timeout, f"{part} restarted and healthy", interval=0.1)

    def kill(self, part: str) -> int:
        pid = self.status()[part]["pid"]
        assert pid, f"{part} has no pid"
        os.kill(pid, signal.SIGKILL)
        return pid

    def task_service(self, status: dict | None = None):
        """A TaskService on this runtime, signing with its state dir's client key."""
        from dals.client.restate_api import RestateApi
        from dals.client.tasks import TaskService
        from dals.trust.client_keys import ensure_private_key, key_file

        st = status or self.status()
        return TaskService(
            RestateApi(st["restate"]["ingress"], st["restate"]["admin"]),
            key=ensure_private_key(key_file(self.state_dir)),
        )

    @property
    def ingress(self) -> str:
        return self.status()["restate"]["ingress"]

    def down(self) -> None:
        self.dals("down", check=False, timeout=60)
        deadline = time.monotonic() + 20
        for pid in list(self.pids):
            while pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
