"""Process-level settings read from the environment: state dir, model, external Restate.

LSP-level settings (initializationOptions, workspace/configuration) override these
per editor session; see `dals.lsp.config`.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from . import env_vars
from .env_vars import raw

# The commands a task may run without an approval when `commands.allow` is not set (prefixes).
DEFAULT_ALLOW = ["pytest", "python -m pytest", "ruff", "mypy", "npm test", "git status", "git diff", "git log"]


def state_dir() -> Path:
    """`DALS_STATE_DIR`, else `$XDG_STATE_HOME/dals`, else `~/.local/state/dals`."""
    explicit = raw("DALS_STATE_DIR")
    if explicit:
        return Path(explicit).expanduser().resolve()
    xdg = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "state"
    return (base / "dals").resolve()


@dataclass(frozen=True)
class ExternalRestate:
    """An existing Restate (cluster or Cloud) that DALS uses instead of starting one."""

    ingress_url: str
    admin_url: str


def external_restate() -> ExternalRestate | None:
    ingress, admin = raw("DALS_RESTATE_INGRESS_URL"), raw("DALS_RESTATE_ADMIN_URL")
    if not ingress and not admin:
        return None
    if not (ingress and admin):
        raise SystemExit(
            "dals: set both DALS_RESTATE_INGRESS_URL and DALS_RESTATE_ADMIN_URL to use an external Restate"
        )
    return ExternalRestate(ingress.rstrip("/"), admin.rstrip("/"))


def default_model() -> str | None:
    """`DALS_MODEL`: a pydantic-ai model string or `offline`; None when unset."""
    return env_vars.text("DALS_MODEL")


DEFAULT_RETENTION_DAYS = 30.0


def retention_days() -> float | None:
    """`DALS_RETENTION_DAYS`: finished tasks older than this many days are purged by the runtime
    (at start, then hourly). Default 30; fractions allowed (`0.5` = 12 h); `0` (or `off`, `never`)
    keeps finished tasks forever. An unreadable value keeps the default, with a warning."""
    value = raw("DALS_RETENTION_DAYS").lower()
    if not value:
        return DEFAULT_RETENTION_DAYS
    if value in ("off", "never", "forever"):
        return None
    try:
        days = float(value)
    except ValueError:
        days = -1.0
    if not math.isfinite(days) or days < 0:
        env_vars.say(f"DALS_RETENTION_DAYS={value!r} is not a number of days >= 0; "
                     f"using {DEFAULT_RETENTION_DAYS:g}")
        return DEFAULT_RETENTION_DAYS
    return days or None


def workers_local() -> bool:
    """`DALS_WORKERS`: where the workers that run the tasks started from here are. `local` (the
    default; the embedded runtime, or `dals up` against an external Restate): on this machine,
    sharing its state dir, so the worker wakes followers with loopback datagrams and reads which
    files your editors have open from the state dir, neither costing a Restate invocation.
    `remote`: possibly elsewhere (a Restate cluster with workers on other machines), so both go
    through Restate (`TaskFeed`, `EditorSessions`); with `local` there, events would reach
    editors only at their once-a-second look and edits would not go through open buffers."""
    value = raw("DALS_WORKERS").lower()
    if value in ("", "local"):
        return True
    if value == "remote":
        return False
    env_vars.say(f"DALS_WORKERS={value!r} is neither 'local' nor 'remote'; using 'local'")
    return True


DEFAULT_RUNTIME_NICE = 5


def runtime_nice() -> int:
    """`DALS_RUNTIME_NICE`: the niceness the runtime's processes (Restate server, worker, and so
    the commands tasks run) start with. Default 5: on a busy machine the editor and `dals lsp` get
    the CPU first, and tasks use what is left; 0 = same priority as everything else (0-19)."""
    value = raw("DALS_RUNTIME_NICE")
    if not value:
        return DEFAULT_RUNTIME_NICE
    try:
        nice = int(value)
    except ValueError:
        nice = -1
    if not 0 <= nice <= 19:
        env_vars.say(f"DALS_RUNTIME_NICE={value!r} is not a whole number from 0 to 19; "
                     f"using {DEFAULT_RUNTIME_NICE}")
        return DEFAULT_RUNTIME_NICE
    return nice


MAX_WORKER_PROCESSES = 16


def worker_processes_setting() -> tuple[int, str | None]:
    """`DALS_WORKER_PROCESSES`: how many worker processes the runtime's supervisor runs (1-16,
    default 1), and what is wrong with the value if anything (then 1). They share the worker port
    (`SO_REUSEPORT`), so Restate's connections, and the tasks on them, spread over the processes:
    more steps per second when many tasks run at once, one idle process's memory (~76 MiB) more
    per process."""
    return _count_setting("DALS_WORKER_PROCESSES", MAX_WORKER_PROCESSES)


def worker_processes() -> int:
    """`worker_processes_setting()`'s count; a bad value is said on stderr."""
    count, problem = worker_processes_setting()
    env_vars.say(problem)
    return count


WORKER_LOOPS = ("uvloop", "asyncio")


def worker_loop_setting() -> tuple[str, str | None]:
    """`DALS_WORKER_LOOP`: the worker's event loop, `uvloop` (default) or `asyncio`, and what is
    wrong with the value if anything (then uvloop). uvloop makes one task's steps faster, asyncio's
    loop gave more steps per second with 25-50 tasks at once (docs/optimisation-log.md)."""
    value = raw("DALS_WORKER_LOOP").lower()
    if not value:
        return "uvloop", None
    if value not in WORKER_LOOPS:
        return "uvloop", f"DALS_WORKER_LOOP={value!r} is neither uvloop nor asyncio; using uvloop"
    return value, None


MAX_RESTATE_PARTITIONS = 64


def restate_partitions_setting() -> tuple[int, str | None]:
    """`DALS_RESTATE_PARTITIONS`: the partitions the embedded Restate server gives a new data dir
    (1-64, default 1), and what is wrong with the value if anything (then 1). Restate reads it only
    when it creates the data dir: an existing one keeps its count. One partition commits more
    steps together on one machine (docs/optimisation-log.md, "One partition")."""
    return _count_setting("DALS_RESTATE_PARTITIONS", MAX_RESTATE_PARTITIONS)


def _count_setting(name: str, maximum: int) -> tuple[int, str | None]:
    """A whole number from 1 to `maximum` in the environment variable `name`, and what is wrong
    with the value if anything (then 1, as when it is unset)."""
    value = raw(name)
    if not value:
        return 1, None
    try:
        count = int(value)
    except ValueError:
        count = 0
    if not 1 <= count <= maximum:
        return 1, f"{name}={value!r} is not a whole number from 1 to {maximum}; using 1"
    return count, None


def runtime_setting_problems() -> list[str]:
    """What is wrong with the settings the runtime reads when it starts (said by `dals up`, warned
    about by `dals doctor`)."""
    settings = (worker_processes_setting(), worker_loop_setting(), restate_partitions_setting())
    return [problem for _, problem in settings if problem]
