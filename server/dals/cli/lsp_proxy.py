"""`dals lsp` through the fork server: when the runtime of this state dir runs one, this process
hands its stdin, stdout and stderr to a forked, already-imported `dals lsp` and stands in for it
until it ends (its exit code, the signals it gets), so an editor sees one process as before.
Without a fork server (no runtime yet, other code, a state dir too deep), `dals lsp` runs here.
"""

from __future__ import annotations

import os
import select
import signal

from ..config.settings import state_dir
from ..runtime import zygote


def serve_forked() -> int | None:
    """Run `dals lsp` in a child of the fork server; its exit code, or None when there is none."""
    try:
        forked = zygote.fork(state_dir(), "lsp", name="dals lsp", tied=True)
    except zygote.ZygoteUnavailable:
        return None

    def forward(sig: int, _frame: object) -> None:
        try:
            os.kill(forked.pid, sig)
        except ProcessLookupError:
            pass

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, forward)
    code = forked.wait()
    if code is None:  # the fork server died first: wait for the child itself
        code = _wait_pid(forked.pid)
    if code < 0:  # ended by a signal: so do we, as the editor expects
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
        return 128 - code
    return code


def _wait_pid(pid: int) -> int:
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return 1
    try:
        select.select([fd], [], [])
    finally:
        os.close(fd)
    return 1  # its code went with the fork server
