"""Whether a process of this machine is alive, and whether it is the one we think (pid reuse)."""

from __future__ import annotations

import os


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is not alive
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def pid_runs(pid: int | None, marker: str) -> bool:
    """True when `pid` is alive and its command line mentions `marker` (guards against pid reuse)."""
    if not pid_alive(pid):
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        with open(f"/proc/{pid}/environ", "rb") as f:
            environ = f.read().decode(errors="replace")
    except OSError:
        return False
    return marker in cmdline or marker in environ
