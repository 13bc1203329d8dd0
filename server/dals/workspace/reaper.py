"""A process that runs one command and makes sure all of it dies with it.

Owns Guarantee 2's "commands die with their worker". Run as a script, not a
module, so it starts fast (stdlib only, no package imports):

    python -S -E reaper.py [--timeout S] [--status FILE] [--parent PID]
                           [--parent-thread TID] [--cleanup DIR]
                           [--unset NAME]... -- ARGV...

It asks the kernel for SIGTERM when the worker thread that started it dies
(PR_SET_PDEATHSIG) and to adopt orphaned descendants (PR_SET_CHILD_SUBREAPER),
so setsid'd and double-forked processes stay below it. It closes every
descriptor above stderr it inherited, then runs ARGV in a new process group
and waits for it. When ARGV exits, when the timeout passes, or
on SIGTERM/SIGINT/SIGHUP, it SIGKILLs every descendant until none is left.
It exits with ARGV's exit code (128+N for a signal), 124 on timeout (and
writes "timeout" to FILE), 143 when terminated. When the parent died, it
also removes the flat scratch DIR, which nobody else is left to remove.

"The parent died" is not just `getppid() != PID`: when a worker is killed,
its threads exit one by one, and if the thread that started the reaper goes
first, the kernel re-parents the reaper to a sibling thread of the same
process (same pid) and sends the death signal then. So the reaper also looks
at that thread itself (TID): gone or a zombie means the worker is dying.
"""

import _signal as signal  # not `signal`: its enum import doubles start-up time
import os
import sys
import time

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
TIMEOUT_EXIT = 124
TERMINATED_EXIT = 143


def _libc_prctl():
    """libc's prctl, through `_ctypes` directly: importing `ctypes` costs ~10 ms."""
    try:
        import _ctypes

        class _Int(_ctypes._SimpleCData):
            _type_ = "i"

        class _Func(_ctypes.CFuncPtr):
            _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
            _restype_ = _Int

        class _Libc:
            _handle = _ctypes.dlopen(None)  # type: ignore[arg-type]  # None: the program itself (dlopen(3))

        return _Func(("prctl", _Libc())), _ctypes.get_errno  # type: ignore[arg-type]  # _Libc: a CDLL's handle
    except (ImportError, AttributeError, OSError, TypeError):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl, ctypes.get_errno


def _prctl(option: int, value: int) -> None:
    prctl, get_errno = _libc_prctl()
    if prctl(option, value, 0, 0, 0) != 0:
        raise OSError(get_errno(), f"prctl({option}, {value}) failed")


def _children_via_task_files(pid: int) -> list[int] | None:
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    children: list[int] = []
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                children.extend(int(c) for c in f.read().split())
        except FileNotFoundError:
            return None  # kernel without CONFIG_PROC_CHILDREN
        except OSError:
            continue
    return children


def _parent_map() -> dict[int, list[int]]:
    """Every process's children, from the ppid field of /proc/*/stat."""
    tree: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        tree.setdefault(int(fields[1]), []).append(int(name))
    return tree


def descendants(root_pid: int) -> list[int]:
    """All live or zombie descendants of `root_pid`, parents before children."""
    found: list[int] = []
    first = _children_via_task_files(root_pid)
    if first is None:
        tree = _parent_map()
        pending = list(tree.get(root_pid, []))
        while pending:
            pid = pending.pop()
            found.append(pid)
            pending.extend(tree.get(pid, []))
        return found
    pending = first
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending.extend(_children_via_task_files(pid) or [])
    return found


def _reap_nohang() -> dict[int, int]:
    """Reap every exited child; returns pid → wait status."""
    reaped: dict[int, int] = {}
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return reaped
        if pid == 0:
            return reaped
        reaped[pid] = status


def kill_all(deadline_s: float = 10.0) -> None:
    """SIGKILL every descendant, again and again, until none is left."""
    me = os.getpid()
    end = time.monotonic() + deadline_s
    while True:
        _reap_nohang()
        pids = descendants(me)
        if not pids or time.monotonic() > end:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.001)


def _write_status(path: str | None, text: str) -> None:
    if path:
        try:
            with open(path, "w") as f:
                f.write(text)
        except OSError:
            pass


def _remove_flat_dir(path: str) -> None:
    try:
        for name in os.listdir(path):
            os.unlink(os.path.join(path, name))
        os.rmdir(path)
    except OSError:
        pass


def _parent_gone(parent: int, thread: int | None) -> bool:
    """Whether the worker that started us died (or is dying)."""
    if os.getppid() != parent:
        return True
    if thread is None:
        return False
    try:
        with open(f"/proc/{parent}/task/{thread}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return True
    return stat[stat.rfind(b")") + 2 :][:1] in (b"Z", b"X")


def close_inherited_fds() -> None:
    """Close every descriptor above stderr: what the worker's event loop let this process inherit
    (uvloop ignores `close_fds`), the worker's sockets among them, stays out of the command."""
    try:
        fds = [int(fd) for fd in os.listdir("/proc/self/fd")]
    except OSError:
        fds = list(range(3, 1024))
    for fd in fds:
        if fd > 2:
            try:
                os.close(fd)
            except OSError:
                pass  # the listing's own descriptor, already closed


def main(argv: list[str]) -> int:
    close_inherited_fds()
    timeout, status_path, parent, thread, cleanup, unset = None, None, None, None, None, []
    args = argv[1:]
    while args and args[0] != "--":
        flag, value, args = args[0], args[1], args[2:]
        if flag == "--timeout":
            timeout = float(value)
        elif flag == "--status":
            status_path = value
        elif flag == "--parent":
            parent = int(value)
        elif flag == "--parent-thread":
            thread = int(value)
        elif flag == "--cleanup":
            cleanup = value
        elif flag == "--unset":
            # Python's locale coercion may have added LC_CTYPE to our own env.
            unset.append(value)
        else:
            sys.stderr.write(f"reaper: unknown option {flag}\n")
            return 2
    command = args[1:]
    if not command:
        sys.stderr.write("reaper: no command given\n")
        return 2

    def terminate(signum, frame):
        kill_all()
        if cleanup and parent is not None and _parent_gone(parent, thread):
            _remove_flat_dir(cleanup)
        os._exit(TERMINATED_EXIT)

    def expire(signum, frame):
        kill_all()
        _write_status(status_path, "timeout")
        os._exit(TIMEOUT_EXIT)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, terminate)
    signal.signal(signal.SIGALRM, expire)
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if parent is not None and _parent_gone(parent, thread):
        if cleanup:  # the parent died before PDEATHSIG was armed
            _remove_flat_dir(cleanup)
        return TERMINATED_EXIT
    if timeout is not None:
        signal.setitimer(signal.ITIMER_REAL, max(timeout, 0.001))
    env = {k: v for k, v in os.environ.items() if k not in unset}
    child = os.posix_spawnp(
        command[0],
        command,
        env,
        setpgroup=0,
        setsigdef=(signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGTERM),
        setsigmask=(),
    )
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            status = 0
            break
        if pid == child:
            break
    signal.setitimer(signal.ITIMER_REAL, 0)
    code = os.waitstatus_to_exitcode(status)
    # Anything the command left running in the background dies with it.
    kill_all()
    _write_status(status_path, f"exit {code}")
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
