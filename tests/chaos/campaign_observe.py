"""What the campaign observes of the runtime and the workspace, without a `dals` subprocess.

The restate server's and the worker's pids and health (from the supervisor's `runtime.json` and
HTTP), waiting until killed parts are back, waiting for a file, and reading a run's log files.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx

from dals.local.endpoints import get_status
from dals.runtime.layout import Layout
from tests.support.runtime import Runtime, pid_alive


def _http_ok(url: str | None) -> bool:
    """GET of an endpoint's URL (`http://…/path`, or `unix:/…sock/path`) answered 200."""
    if not url:
        return False
    sock, found, path = url.partition(".sock")
    if url.startswith("unix:") and found:
        return get_status(sock + ".sock", path, timeout=2.0) == 200
    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def runtime_status(rt: Runtime) -> dict[str, Any]:
    """What `dals status --json` says about the restate server and the worker (pids from the
    supervisor's `runtime.json`, health over HTTP), computed here: a `dals status` subprocess per
    poll costs the 2-core machine more than the thing it measures."""
    try:
        data = json.loads((rt.state_dir / "runtime.json").read_text())
    except (OSError, ValueError):
        data = {}
    restate, worker = data.get("restate") or {}, data.get("worker") or {}
    rpid, wpid = restate.get("pid"), worker.get("pid")
    admin, ingress = restate.get("admin"), restate.get("ingress")
    st = {
        "restate": {
            "pid": rpid if pid_alive(rpid) else None,
            "healthy": _http_ok(f"{admin}/health") and _http_ok(f"{ingress}/restate/health"),
        },
        "worker": {"pid": wpid if pid_alive(wpid) else None, "healthy": _http_ok(f"{worker.get('url')}/health")},
        "supervisor": {"pid": data.get("supervisor") if pid_alive(data.get("supervisor")) else None},
    }
    rt._remember(st)
    return st


class RuntimeNotBack(TimeoutError):
    """What was killed did not come back: the runs after it could not run, so the campaign stops."""


def log_tails(rt: Runtime, lines: int = 25) -> str:
    """The last lines of the supervisor's and the worker's logs: why a part did not come back."""
    out = []
    for name in ("supervisor", "worker"):
        try:
            text = Layout(rt.state_dir).log(name).read_text(errors="replace")
        except OSError as e:
            text = f"(unreadable: {e})"
        out.append(f"--- {name}.log (last {lines} lines)\n" + "\n".join(text.splitlines()[-lines:]))
    return "\n".join(out)


def wait_back(rt: Runtime, parts: list[str], old: dict[str, int], timeout: float) -> float:
    """Block until every part in `parts` runs with a new pid and is healthy; the seconds it took.
    Raises `RuntimeNotBack` with the runtime's log tails after `timeout`."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    while True:
        st = runtime_status(rt)
        if all(st[p]["pid"] and st[p]["pid"] != old[p] and st[p]["healthy"] for p in parts):
            # and what was not killed is healthy too (the worker re-registers after a server restart)
            if st["restate"]["healthy"] and st["worker"]["healthy"]:
                return time.monotonic() - t0
        if time.monotonic() > deadline:
            raise RuntimeNotBack(f"{'+'.join(parts)} not back after {timeout:.0f}s: {st}\n{log_tails(rt)}")
        time.sleep(0.1)


def wait_file(path: Path, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def read_lines(path: Path) -> list[str]:
    try:
        return path.read_text().splitlines()
    except OSError:
        return []
