"""The fork server: one process of the runtime that has imported everything a worker and `dals lsp`
need, and forks a ready copy of itself for each (docs/architecture.md, "The fork server").

Importing the agent and durable stack takes seconds and about 60 MiB per process; pygls and
lsprotocol another half second. The zygote pays both once; a forked worker or
`dals lsp` starts in milliseconds and shares those pages with it (copy-on-write, after
`gc.freeze()`, so the collector does not dirty them) instead of holding its own.

Protocol, on the unix socket `zygote.sock` in the state dir (the state dir is the user's only):
the client sends one length-prefixed JSON request with its stdin, stdout and stderr as
`SCM_RIGHTS` file descriptors; the zygote answers `{"pid": N}` (or `{"error": "..."}`) then, when
that child ends, `{"exit": code}` (negative: the signal that ended it). A `tied` child is killed
(SIGKILL) when its client's connection closes first: the client was killed, and so is what stood in
for it. The zygote forks only while it has no thread and no event loop, so a child starts from a
plain single-threaded copy; this module imports only the standard library, so the client side
(`dals lsp`'s proxy, the supervisor) costs nothing to load.
"""

from __future__ import annotations

import gc
import io
import json
import os
import random
import selectors
import signal
import socket
import struct
import sys
import time
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SOCKET_NAME = "zygote.sock"
_HEADER = struct.Struct("!I")
_MAX_REQUEST = 4 << 20

Role = Callable[[dict], int]


class ZygoteUnavailable(Exception):
    """No fork server answers at that state dir, or it refused the request (other code, bad role)."""


def identity() -> dict[str, str]:
    """What must match between a client and the zygote: the same `dals` code under the same Python
    with the same module path (what the interpreter read at its start is not read again in a fork)."""
    import dals

    return {
        "dals": str(Path(dals.__file__).resolve().parent),
        "version": dals.__version__,
        "python": sys.prefix,
        "pythonpath": os.environ.get("PYTHONPATH", ""),
    }


# --- the client side ------------------------------------------------------------------------------


@dataclass
class Forked:
    """A child the zygote forked for us: its pid and the connection that tells when it ends."""

    pid: int
    conn: socket.socket

    def wait(self, timeout: float | None = None) -> int | None:
        """Its exit code once it ended (negative: the signal), None on timeout; a zygote that died
        first gives None too (the child may still run: callers check its pid)."""
        self.conn.settimeout(timeout)
        try:
            message = _read_line(self.conn)
        except TimeoutError:
            return None
        except OSError:
            return None
        if message is None:
            return None
        return int(json.loads(message)["exit"])

    def close(self) -> None:
        self.conn.close()


@contextmanager
def _in_dir(state_dir: Path):
    """A short path to `state_dir` for AF_UNIX (108 bytes at most): /proc/self/fd/N of an O_PATH fd."""
    fd = os.open(state_dir, os.O_PATH | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{fd}"
    finally:
        os.close(fd)


def fork(
    state_dir: Path,
    role: str,
    args: Mapping[str, object] | None = None,
    *,
    fds: tuple[int, int, int] = (0, 1, 2),
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    nice: int = 0,
    name: str = "",
    tied: bool = False,
    timeout: float = 10.0,
) -> Forked:
    """Ask the zygote of `state_dir` for a child running `role` with `fds` as its stdin, stdout and
    stderr, `env` as its whole environment (default: ours) and `cwd`. Raises ZygoteUnavailable."""
    request = {
        "role": role,
        "args": dict(args or {}),
        "env": dict(os.environ if env is None else env),
        "cwd": cwd or os.getcwd(),
        "nice": nice,
        "name": name,
        "tied": tied,
        **identity(),
    }
    if not hasattr(os, "O_PATH") or not hasattr(os, "pidfd_open"):
        raise ZygoteUnavailable("the fork server needs Linux (O_PATH, pidfd)")
    payload = json.dumps(request).encode()
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.settimeout(timeout)
    try:
        with _in_dir(state_dir) as short:
            conn.connect(f"{short}/{SOCKET_NAME}")
        data = _HEADER.pack(len(payload)) + payload
        sent = socket.send_fds(conn, [data], list(fds))
        if sent < len(data):
            conn.sendall(data[sent:])
        reply = _read_line(conn)
    except OSError as e:  # includes timeouts, a missing or stale socket
        conn.close()
        raise ZygoteUnavailable(f"no fork server at {state_dir}: {e}") from e
    answer = json.loads(reply) if reply else {"error": "the fork server closed the connection"}
    if "pid" not in answer:
        conn.close()
        raise ZygoteUnavailable(str(answer.get("error")))
    return Forked(int(answer["pid"]), conn)


def _read_line(conn: socket.socket) -> bytes | None:
    """One newline-ended message, read a byte at a time (messages are tiny and come twice per
    child), so nothing of the next one is consumed; None at EOF."""
    line = bytearray()
    while True:
        byte = conn.recv(1)
        if not byte:
            return None
        if byte == b"\n":
            return bytes(line)
        line += byte


# --- the zygote -----------------------------------------------------------------------------------


THEN_AFTER_S = 1.0


def serve(
    state_dir: Path, roles: Mapping[str, Role], preload: Callable[[], None], then: Callable[[], None] | None = None
) -> int:
    """Import (`preload`), then fork a child per request until SIGTERM or SIGINT. Binds the socket
    only once warm: a client that finds it finds a zygote ready to fork. `then`: more imports, made
    once the first child is forked (or after THEN_AFTER_S without a request), so that they do not
    delay it: the runtime's first worker need not wait for what only later children use."""
    preload()
    gc.collect()
    gc.freeze()  # what the children share stays out of the collector's way: their pages stay shared
    server = _Server(state_dir, roles)
    server.then, server.then_at = then, time.monotonic() + THEN_AFTER_S
    try:
        server.loop()
    finally:
        server.close()
    return 0


class _Server:
    def __init__(self, state_dir: Path, roles: Mapping[str, Role]):
        self.roles = roles
        self.me = identity()
        self.path = state_dir / SOCKET_NAME
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # Bound and listening under another name, then renamed: the socket's name appearing means
        # a connect succeeds (between bind and listen it would be refused).
        binding = f".{SOCKET_NAME}.{os.getpid()}"
        with _in_dir(state_dir) as short:
            for stale in (binding, SOCKET_NAME):  # a killed zygote's
                try:
                    os.unlink(f"{short}/{stale}")
                except FileNotFoundError:
                    pass
            self.listener.bind(f"{short}/{binding}")
            os.chmod(f"{short}/{binding}", 0o600)
            self.listener.listen(64)
            os.rename(f"{short}/{binding}", f"{short}/{SOCKET_NAME}")
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ, "accept")
        self.wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.wake_w = wake_w
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so the wake-up fd hears it
        self.stop = False

        def stop(*_: object) -> None:
            self.stop = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.selector.register(self.wake_r, selectors.EVENT_READ, "signal")
        self.children: dict[int, _Child] = {}
        self.forks = 0
        self.then: Callable[[], None] | None = None
        self.then_at = 0.0
        print(f"zygote: warm, serving {sorted(roles)} at {self.path}", file=sys.stderr, flush=True)

    def loop(self) -> None:
        while not self.stop:
            timeout = 1.0 if self.then is None else max(0.0, self.then_at - time.monotonic())
            for key, _ in self.selector.select(timeout=timeout):
                if key.data == "accept":
                    self.accept()
                elif key.data == "signal":
                    try:
                        while os.read(self.wake_r, 512):
                            pass
                    except BlockingIOError:
                        pass
                    self.reap()
                else:
                    self.client_gone(key.data)
            self.reap()
            if self.then is not None and (self.forks or time.monotonic() >= self.then_at):
                then, self.then = self.then, None
                then()
                gc.freeze()

    def accept(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        conn.settimeout(5.0)  # a client sends its request at once; a stuck one costs 5 s at most
        fds: list[int] = []
        try:
            request, fds = _read_request(conn)
            pid = self.fork(request, fds, conn)
        except Exception as e:  # noqa: BLE001 - a bad request gets an answer; the zygote stays up
            _send(conn, {"error": f"{type(e).__name__}: {e}"})
            conn.close()
            return
        finally:
            for fd in fds:
                os.close(fd)
        _send(conn, {"pid": pid})
        self.forks += 1
        self.children[pid] = _Child(conn, bool(request.get("tied")))
        self.selector.register(conn, selectors.EVENT_READ, pid)

    def fork(self, request: dict, fds: list[int], conn: socket.socket) -> int:
        mismatch = [k for k, v in self.me.items() if request.get(k) != v]
        if mismatch:
            raise ValueError(f"this fork server runs other code ({', '.join(mismatch)} differ)")
        role = self.roles.get(request.get("role", ""))
        if role is None:
            raise ValueError(f"unknown role {request.get('role')!r}; known: {sorted(self.roles)}")
        if len(fds) != 3:
            raise ValueError(f"expected 3 file descriptors (stdin, stdout, stderr), got {len(fds)}")
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid:
            return pid
        code = 70
        try:
            self.become(request, fds, conn)
            code = role(request.get("args") or {})
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except BaseException:  # noqa: BLE001 - report like an uncaught exception would
            import traceback

            traceback.print_exc()
            code = 1
        finally:
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except Exception:  # noqa: BLE001,S110 - a closed pipe: nothing left to tell
                    pass
            os._exit(code)

    def become(self, request: dict, fds: list[int], conn: socket.socket) -> None:
        """In the child: shed the zygote (signals, sockets), take the client's stdio, environment,
        directory and niceness."""
        if request.get("name"):
            _set_name(request["name"])
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        self.selector.close()
        self.listener.close()
        os.close(self.wake_r)
        os.close(self.wake_w)
        for child in self.children.values():
            if child.conn:
                child.conn.close()
        conn.close()
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        unbuffered = bool(request["env"].get("PYTHONUNBUFFERED"))
        # Buffered like the interpreter's own: a raw FileIO's read(n) returns what a pipe holds,
        # which cut long LSP messages short (the JSON-RPC fuzz test found it).
        sys.stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)), encoding="utf-8")
        sys.stdout = io.TextIOWrapper(
            io.BufferedWriter(io.FileIO(1, "w", closefd=False)), encoding="utf-8", write_through=unbuffered
        )
        sys.stderr = io.TextIOWrapper(
            io.BufferedWriter(io.FileIO(2, "w", closefd=False)),
            encoding="utf-8",
            errors="backslashreplace",
            line_buffering=True,
            write_through=unbuffered,
        )
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        if request.get("nice"):
            os.nice(int(request["nice"]))
        random.seed()  # not the zygote's sequence: each child its own

    def reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if not pid:
                return
            child = self.children.pop(pid, None)
            if child and child.conn:
                self.selector.unregister(child.conn)
                _send(child.conn, {"exit": os.waitstatus_to_exitcode(status)})
                child.conn.close()

    def client_gone(self, pid: int) -> None:
        child = self.children[pid]
        assert child.conn is not None
        try:
            if child.conn.recv(1):
                return  # clients send nothing after the request; ignore it
        except OSError:
            pass
        self.selector.unregister(child.conn)
        child.conn.close()
        child.conn = None  # still reaped by reap(); its exit goes nowhere
        if child.tied:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def close(self) -> None:
        self.selector.close()
        self.listener.close()
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass


@dataclass
class _Child:
    conn: socket.socket | None  # to its client, until that closes
    tied: bool


def _read_request(conn: socket.socket) -> tuple[dict, list[int]]:
    data, fds, _flags, _addr = socket.recv_fds(conn, 64 * 1024, 8)
    buf = bytearray(data)
    if len(buf) < _HEADER.size:
        raise ValueError("short request")
    (size,) = _HEADER.unpack_from(buf)
    if size > _MAX_REQUEST:
        raise ValueError(f"request of {size} bytes")
    while len(buf) < _HEADER.size + size:
        chunk = conn.recv(_HEADER.size + size - len(buf))
        if not chunk:
            raise ValueError("request cut short")
        buf += chunk
    return json.loads(bytes(buf[_HEADER.size :])), fds


def _send(conn: socket.socket, message: dict) -> None:
    try:
        conn.sendall(json.dumps(message).encode() + b"\n")
    except OSError:
        pass


def _set_name(name: str) -> None:
    """The name `ps -e`, `top` and /proc/PID/comm show (15 bytes); the command line stays the
    zygote's, and /proc/PID/environ the environment the zygote started with (Linux keeps both from
    the exec)."""
    try:
        with open("/proc/self/comm", "w") as f:
            f.write(name[:15])
    except OSError:
        pass
