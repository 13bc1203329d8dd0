"""Finding the `restate-server` binary, and fetching the pinned one through npm if needed."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from ..config import env_vars

RESTATE_VERSION = "1.7.12"
_REL = Path("node_modules/@restatedev/restate-server-linux-x64/bin/restate-server")


def _repo_runtime_dir() -> Path:
    # server/dals/runtime/restate_binary.py -> repo root is four levels up.
    return Path(__file__).resolve().parents[3] / ".dals-runtime"


def _user_runtime_dir() -> Path:
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return base / "dals" / f"restate-server-{RESTATE_VERSION}"


def find_restate_server() -> Path | None:
    """`DALS_RESTATE_SERVER_BIN`, the repo's `.dals-runtime/`, the user's data dir, then PATH."""
    explicit = env_vars.raw("DALS_RESTATE_SERVER_BIN")
    if explicit:
        return Path(explicit) if Path(explicit).is_file() else None
    for base in (_repo_runtime_dir(), _user_runtime_dir()):
        candidate = base / _REL
        if candidate.is_file():
            return candidate
    found = shutil.which("restate-server")
    return Path(found) if found else None


def ensure_restate_server(log) -> Path:
    """The binary, installed with npm into the user's data dir on first use."""
    found = find_restate_server()
    if found:
        return found
    npm = shutil.which("npm")
    if not npm:
        raise RuntimeError(
            "restate-server not found and npm is not installed: install Node.js, or set "
            "DALS_RESTATE_SERVER_BIN, or point DALS at an external Restate (DALS_RESTATE_INGRESS_URL)"
        )
    target = _user_runtime_dir()
    target.mkdir(parents=True, exist_ok=True)
    log(f"installing @restatedev/restate-server@{RESTATE_VERSION} into {target} (first use)")
    subprocess.run(
        [
            npm,
            "install",
            "--no-fund",
            "--no-audit",
            "--prefix",
            str(target),
            f"@restatedev/restate-server@{RESTATE_VERSION}",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    found = find_restate_server()
    if not found:
        raise RuntimeError(f"npm install finished but {target / _REL} is missing")
    return found
