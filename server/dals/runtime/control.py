"""`dals up`, `dals down`, `dals status`: start, stop and describe the runtime of one state dir."""

from __future__ import annotations

import asyncio
import fcntl
import os
import signal
import subprocess
import sys
import time

from ..config.settings import external_restate, runtime_setting_problems, state_dir
from ..local.endpoints import get_status, unix_url
from ..local.pids import pid_alive, pid_runs
from .children import kill_pid
from .layout import Layout


class RuntimeError_(RuntimeError):
    """The runtime could not be brought up; the message says why and where the logs are."""


def layout() -> Layout:
    return Layout(state_dir()).ensure()


def supervisor_alive(lay: Layout) -> bool:
    with open(lay.supervisor_lock, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(f, fcntl.LOCK_UN)
        return False


def _ok(url: str | None, path: str) -> bool:
    return url is not None and url != "" and get_status(url, path) == 200


def status(lay: Layout | None = None) -> dict:
    """The contract's `dals status --json` object."""
    lay = lay or layout()
    data = lay.read_runtime()
    ext = external_restate()
    ports = lay.kept_ports()
    restate = data.get("restate") or {}
    worker = data.get("worker") or {}
    ingress, admin = (ext.ingress_url, ext.admin_url) if ext else _embedded(lay)
    worker_url = worker.get("url") or (f"http://127.0.0.1:{ports.worker}" if ports else None)
    sup_alive = supervisor_alive(lay)
    rpid = restate.get("pid") if sup_alive else None
    wpid = worker.get("pid") if sup_alive else None
    wpids = lay.worker_pids() if sup_alive else []
    zpid = (data.get("zygote") or {}).get("pid") if sup_alive else None
    restate_ok = _ok(admin, "/health") and _ok(ingress, "/restate/health")
    worker_ok = _ok(worker_url, "/health")
    return {
        "restate": {
            "pid": rpid if pid_alive(rpid) else None,
            "ingress": ingress,
            "admin": admin,
            "external": bool(ext),
            "healthy": restate_ok,
        },
        "worker": {
            "pid": wpid if pid_alive(wpid) else None,
            "url": worker_url,
            "pids": [p for p in wpids if pid_alive(p)],
            "healthy": worker_ok,
        },
        "supervisor": {"pid": data.get("supervisor") if sup_alive else None},
        "zygote": {"pid": zpid if pid_alive(zpid) else None, "healthy": pid_alive(zpid) and lay.zygote_socket.exists()},
        "stateDir": str(lay.root),
        "logs": str(lay.logs),
    }


def _spawn_supervisor(lay: Layout) -> None:
    log = open(lay.log("supervisor"), "ab")
    subprocess.Popen(
        [sys.executable, "-m", "dals", "supervise"],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=dict(os.environ, DALS_STATE_DIR=str(lay.root)),
        cwd=lay.root,
        start_new_session=True,
        close_fds=True,  # outlives the editor and `dals lsp`
    )
    log.close()


def _ready(lay: Layout) -> bool:
    data = lay.read_runtime()
    return bool(data.get("ready")) and pid_alive(data.get("supervisor"))


def up(timeout: float = 120.0) -> dict:
    """Ensure the runtime runs and is healthy; start what is missing. Idempotent."""
    lay = layout()
    with open(lay.up_lock, "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        if not supervisor_alive(lay):
            for problem in runtime_setting_problems():  # said here, not only in the runtime's logs
                print(f"dals: {problem}", file=sys.stderr)
            lay.write_runtime({"supervisor": None, "ready": False, "stateDir": str(lay.root)})
            _spawn_supervisor(lay)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if _ready(lay):
                return status(lay)
            err = lay.read_runtime().get("error")
            if err:
                raise RuntimeError_(f"{err} (logs in {lay.logs})")
            time.sleep(0.05)
    raise RuntimeError_(f"runtime not ready after {timeout:.0f}s (logs in {lay.logs})")


async def up_async(timeout: float = 120.0) -> dict:
    return await asyncio.to_thread(up, timeout)


def down(timeout: float = 30.0) -> bool:
    """Stop the runtime of this state dir. True if something was running."""
    lay = layout()
    data = lay.read_runtime()
    stopped = False
    # runtime.json names the supervisor once it is ready; its pidfile exists from its first moment
    # (a `dals down` while another process's `dals up` is still starting).
    try:
        starting = int(lay.supervisor_pid.read_text().strip())
    except (OSError, ValueError):
        starting = None
    for sup in dict.fromkeys(p for p in (data.get("supervisor"), starting) if p):
        if pid_runs(sup, "supervise") and pid_runs(sup, str(lay.root)):  # ours, not a reused pid
            kill_pid(sup, signal.SIGTERM, timeout)
            stopped = True
    # Children of a supervisor that died uncleanly.
    for part, pid in lay.child_pids():
        if pid_runs(pid, str(lay.root)):
            kill_pid(pid, signal.SIGTERM if part == "restate" else signal.SIGINT, timeout)
            stopped = True
    lay.write_runtime({"supervisor": None, "ready": False, "stateDir": str(lay.root)})
    return stopped


def endpoints() -> tuple[str, str]:
    """(ingress, admin) URLs of the runtime of this state dir, external or embedded."""
    ext = external_restate()
    if ext:
        return ext.ingress_url, ext.admin_url
    return _embedded(layout())


def _embedded(lay: Layout) -> tuple[str, str]:
    """(ingress, admin) of the embedded runtime: its unix sockets in the state dir."""
    return unix_url(lay.ingress_socket), unix_url(lay.admin_socket)
