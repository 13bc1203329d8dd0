"""The stateless shell behind the `run_command` tool.

Every command runs in a fresh `bash`, started under `reaper.py` so that it
and everything it spawns die on timeout, on cancellation and with the worker
(Guarantee 2). The shell state the agent expects between calls, the working
directory and the variables it exported, is not kept in a live process: it is
read back after each command and returned as plain data (`ShellState`) for
the caller to journal and pass in again. Secrets never enter the command's
environment, its returned environment or its output.
"""

import asyncio
import os
import posixpath
import shlex
import shutil
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from dals.workspace.confine import is_inside, relative, resolve
from dals.workspace.errors import WorkspaceError

REAPER = str(Path(__file__).with_name("reaper.py"))
TIMEOUT_EXIT = 124
SECRET_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL")
SECRET_PREFIXES = ("DALS_", "RESTATE_")
# Set by bash itself; never part of the agent's exported state.
SHELL_OWN_VARS = frozenset({"PWD", "OLDPWD", "SHLVL", "_"})
# Python's locale coercion (PEP 538) may add these to the reaper's environment.
LOCALE_COERCED = ("LC_CTYPE",)
# Time the reaper gets beyond the timeout before the worker kills it itself.
BACKSTOP_GRACE_S = 10.0


@dataclass
class ShellState:
    """Where the previous command left the agent: cwd and exported variables."""

    cwd: str = "."
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CommandResult:
    exit_code: int
    stdout: str
    stderr: str
    cwd: str
    env: dict[str, str]
    timed_out: bool
    truncated: bool
    duration_s: float

    def to_model_text(self) -> str:
        """A compact account of the command for the model."""
        parts = [f"exit code: {self.exit_code}", f"cwd: {self.cwd}"]
        if self.stdout:
            parts.append("stdout:\n" + self.stdout.rstrip("\n"))
        if self.stderr:
            parts.append("stderr:\n" + self.stderr.rstrip("\n"))
        if not self.stdout and not self.stderr:
            parts.append("(no output)")
        if self.timed_out:
            parts.append(
                f"note: timed out after {self.duration_s:.1f} s; the command and every process it started were killed"
            )
        if self.truncated:
            parts.append(
                "note: output was cut (middle left out); redirect it to a file and search the file to see more"
            )
        return "\n".join(parts)


def is_secret_name(name: str) -> bool:
    upper = name.upper()
    return any(word in upper for word in SECRET_WORDS) or upper.startswith(SECRET_PREFIXES)


def scrubbed_env(env: dict[str, str]) -> dict[str, str]:
    """`env` without variables whose names say they hold secrets."""
    return {k: v for k, v in env.items() if not is_secret_name(k)}


async def run_command(
    root: Path,
    command: str,
    state: ShellState,
    cwd: str = ".",
    timeout_s: float = 120,
    max_output: int = 64_000,
    base_env: dict[str, str] | None = None,
) -> CommandResult:
    """Run `command` with bash in a fresh process, in `cwd` relative to `state.cwd`."""
    if not isinstance(command, str) or not command.strip():
        raise WorkspaceError("command is empty")
    if "\x00" in command:
        raise WorkspaceError("command contains a NUL byte")
    if timeout_s <= 0:
        raise WorkspaceError("timeout_s must be positive")
    real_root = Path(os.path.realpath(root))
    start_rel = posixpath.join(state.cwd or ".", cwd or ".")
    start = resolve(real_root, start_rel)
    if not start.is_dir():
        raise WorkspaceError(f"cwd '{posixpath.normpath(start_rel)}' is not a directory")
    source = dict(os.environ if base_env is None else base_env)
    base = scrubbed_env(source)
    secrets = sorted({v for k, v in source.items() if is_secret_name(k) and len(v) >= 6}, key=len, reverse=True)
    state_env = scrubbed_env(state.env)
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="dals-cmd-", ignore_cleanup_errors=True) as tmp:
        files = {name: os.path.join(tmp, name) for name in ("script", "pwd", "env", "status")}
        with open(files["script"], "w") as f:
            f.write(_script(start, command, files["pwd"], files["env"]))
        env = {**base, **state_env}
        argv = [
            sys.executable,
            "-S",
            "-E",
            REAPER,
            "--timeout",
            repr(float(timeout_s)),
            "--status",
            files["status"],
            "--parent",
            str(os.getpid()),
            # _run_reaped forks in this (the event-loop) thread: the reaper's PDEATHSIG follows it.
            "--parent-thread",
            str(threading.get_native_id()),
            "--cleanup",
            tmp,
            *(arg for name in LOCALE_COERCED if name not in env for arg in ("--unset", name)),
            "--",
            shutil.which("bash") or "/bin/bash",
            files["script"],
        ]
        code, out, err, stuck = await _run_reaped(argv, start, env, timeout_s + BACKSTOP_GRACE_S, max_output)
        timed_out = stuck or _read(files["status"]) == "timeout"
        final_pwd, final_env = _read(files["pwd"]), _read(files["env"])
    duration = time.monotonic() - began
    cwd_after = relative(real_root, start)
    if final_pwd is not None:
        pwd = Path(final_pwd.removesuffix("\n"))
        if is_inside(real_root, pwd):
            cwd_after = relative(real_root, Path(os.path.realpath(pwd)))
        else:
            cwd_after = "."
            gap = "\n" if err.text and not err.text.endswith("\n") else ""
            err.text += gap + "[the command left the workspace; cwd reset to '.']\n"
    env_after = state_env if final_env is None else _env_delta(final_env, base)
    # `export X="$(cat /proc/$PPID/...)"` must not carry a secret into the journal either.
    env_after = {k: _redact(v, secrets) for k, v in env_after.items()}
    return CommandResult(
        exit_code=TIMEOUT_EXIT if timed_out else code,
        stdout=_redact(out.text, secrets),
        stderr=_redact(err.text, secrets),
        cwd=cwd_after,
        env=env_after,
        timed_out=timed_out,
        truncated=out.cut > 0 or err.cut > 0,
        duration_s=duration,
    )


def _script(start: Path, command: str, pwd_file: str, env_file: str) -> str:
    env_bin = shutil.which("env") or "/usr/bin/env"
    # The EXIT trap records the state even when the command calls `exit`.
    on_exit = (
        f"__dals_rc=$?; pwd -P > {shlex.quote(pwd_file)} 2>/dev/null; "
        f"{shlex.quote(env_bin)} -0 > {shlex.quote(env_file)} 2>/dev/null; "
        "exit $__dals_rc"
    )
    return (
        f"cd -- {shlex.quote(str(start))} || exit 125\ntrap {shlex.quote(on_exit)} EXIT\neval {shlex.quote(command)}\n"
    )


class _Capture:
    """A stream kept as head and tail, with a marker where the middle was cut."""

    def __init__(self, limit: int) -> None:
        self.head_limit = limit // 2
        self.tail_limit = limit - self.head_limit
        self.head, self.tail = bytearray(), bytearray()
        self.cut = 0
        self.text = ""

    def add(self, chunk: bytes) -> None:
        room = self.head_limit - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        self.tail += chunk
        excess = len(self.tail) - self.tail_limit
        if excess > 0:
            del self.tail[:excess]
            self.cut += excess

    def finish(self) -> None:
        marker = f"\n[… {self.cut} bytes cut …]\n".encode() if self.cut else b""
        self.text = bytes(self.head + marker + self.tail).decode("utf-8", errors="replace")


async def _pump(stream: asyncio.StreamReader, capture: _Capture) -> None:
    while chunk := await stream.read(65536):
        capture.add(chunk)
    capture.finish()


async def _run_reaped(
    argv: list[str], cwd: Path, env: dict[str, str], backstop_s: float, max_output: int
) -> tuple[int, _Capture, _Capture, bool]:
    """Run the reaper; returns its exit code, the outputs and whether the backstop fired."""
    # create_subprocess_exec forks in the event-loop thread, so the reaper's
    # PDEATHSIG follows this long-lived thread, not a short-lived helper one.
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=str(cwd),
        env=env,
    )
    if proc.stdout is None or proc.stderr is None:  # PIPE gives both
        await _stop(proc)
        raise RuntimeError("the reaper's output pipes are missing")
    out, err = _Capture(max_output), _Capture(max_output)
    pumps = asyncio.gather(_pump(proc.stdout, out), _pump(proc.stderr, err), proc.wait())
    # When the step is cancelled (its attempt cut off), the pumps end with an error nobody awaits:
    # retrieve it, so asyncio does not log "exception was never retrieved".
    pumps.add_done_callback(lambda f: f.cancelled() or f.exception())
    try:
        _, _, code = await asyncio.wait_for(pumps, backstop_s)
    except TimeoutError:
        await _stop(proc)
        out.finish()
        err.finish()
        return TIMEOUT_EXIT, out, err, True
    finally:
        if proc.returncode is None:
            await _stop(proc)
    return (code if code >= 0 else 128 - code), out, err, False


async def _stop(proc: asyncio.subprocess.Process) -> None:
    """SIGTERM makes the reaper kill the whole tree; SIGKILL it if it hangs."""
    try:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(asyncio.shield(proc.wait()), 5)
    except (TimeoutError, asyncio.CancelledError, ProcessLookupError):
        try:
            proc.kill()
        except ProcessLookupError:
            pass


def _read(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            # "replace": the result is journaled, and must encode as UTF-8.
            return f.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return None


def _env_delta(env0: str, base: dict[str, str]) -> dict[str, str]:
    delta: dict[str, str] = {}
    for entry in env0.split("\0"):
        name, sep, value = entry.partition("=")
        if sep and name not in SHELL_OWN_VARS and not is_secret_name(name) and base.get(name) != value:
            delta[name] = value
    return delta


def _redact(text: str, secrets: list[str]) -> str:
    for value in secrets:
        text = text.replace(value, "[redacted]")
    return text
