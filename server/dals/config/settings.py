"""The process's settings: every `DALS_*` environment variable (declared in `env_vars`) read into
one typed, frozen `Settings`, by one set of rules, once per environment.

`current()` is the object for the environment as it is now: built the first time, and again only
when a `DALS_*` variable changed (tests and `dals lsp` set some in-process). A value that cannot be
used is one `SettingError` (the variable, the value, what it accepts, what is used instead): the
setting takes its default, and `current()` says the error once on stderr as `dals: ...`.
LSP-level settings (initializationOptions, workspace/configuration) override some of these per
editor session; see `dals.lsp.config`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from . import env_vars
from .env_vars import SettingError

__all__ = [
    "Settings",
    "SettingError",
    "ExternalRestate",
    "current",
    "state_dir",
    "external_restate",
    "default_model",
    "retention_days",
    "runtime_nice",
    "worker_processes",
    "worker_loop",
    "restate_partitions",
    "runtime_setting_problems",
    "DEFAULT_RETENTION_DAYS",
    "DEFAULT_ALLOW",
]

# The commands a task may run without an approval when `commands.allow` is not set (prefixes).
DEFAULT_ALLOW = ["pytest", "python -m pytest", "ruff", "mypy", "npm test", "git status", "git diff", "git log"]

# The context window of a model whose profile does not say, when `context.maxTokens` is not set.
DEFAULT_CONTEXT_TOKENS = 128_000

DEFAULT_RETENTION_DAYS = 30.0
RUNTIME_VARS = ("DALS_WORKER_PROCESSES", "DALS_WORKER_LOOP", "DALS_RESTATE_PARTITIONS")


@dataclass(frozen=True)
class ExternalRestate:
    """An existing Restate (cluster or Cloud) that DALS uses instead of starting one."""

    ingress_url: str
    admin_url: str


@dataclass(frozen=True)
class Settings:
    """Every setting the runtime, the worker and the clients read from the environment."""

    state_dir: Path
    model: str | None
    external_restate: ExternalRestate | None
    runtime_nice: int
    worker_processes: int
    worker_loop: str
    eager_steps: bool
    restate_partitions: int
    task_max_attempts: int
    model_timeout_s: float
    retention_days: float | None
    force_replay: bool
    mcp_workspace_servers: bool
    test_revert_delay_s: float
    problems: tuple[SettingError, ...] = field(default=())
    half_external: SettingError | None = None  # only one of the two external Restate URLs is set

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        problems: list[SettingError] = []

        def get(name: str) -> bool | float | str | None:
            try:
                return env_vars.parse(name, env)
            except SettingError as e:
                problems.append(e)
                return env_vars.parse(name, {})  # the default

        def flag(name: str) -> bool:
            return bool(get(name))

        def number(name: str) -> float:
            value = get(name)
            return float(value) if isinstance(value, (int, float)) else 0.0

        ingress = env_vars.raw("DALS_RESTATE_INGRESS_URL", env)
        admin = env_vars.raw("DALS_RESTATE_ADMIN_URL", env)
        external, half = None, None
        if ingress and admin:
            external = ExternalRestate(ingress.rstrip("/"), admin.rstrip("/"))
        elif ingress or admin:
            name = "DALS_RESTATE_ADMIN_URL" if ingress else "DALS_RESTATE_INGRESS_URL"
            half = SettingError(
                name,
                "",
                "set: set both DALS_RESTATE_INGRESS_URL and DALS_RESTATE_ADMIN_URL "
                "to use an external Restate, or neither",
                "the embedded Restate",
            )
        days = get("DALS_RETENTION_DAYS")
        return cls(
            state_dir=_state_dir(env),
            model=env_vars.text("DALS_MODEL", env),
            external_restate=external,
            runtime_nice=int(number("DALS_RUNTIME_NICE")),
            worker_processes=int(number("DALS_WORKER_PROCESSES")),
            worker_loop=str(get("DALS_WORKER_LOOP")),
            eager_steps=flag("DALS_EAGER_STEPS"),
            restate_partitions=int(number("DALS_RESTATE_PARTITIONS")),
            task_max_attempts=max(1, int(number("DALS_TASK_MAX_ATTEMPTS"))),  # 0 or less: one attempt
            model_timeout_s=number("DALS_MODEL_TIMEOUT_S"),
            retention_days=float(days) if isinstance(days, (int, float)) else None,
            force_replay=flag("DALS_FORCE_REPLAY"),
            mcp_workspace_servers=flag("DALS_MCP_WORKSPACE_SERVERS"),
            test_revert_delay_s=number("DALS_TEST_REVERT_DELAY_S"),
            problems=tuple(problems),
            half_external=half,
        )

    def problem(self, name: str) -> SettingError | None:
        """The error of variable `name`, if its value could not be used."""
        return next((p for p in self.problems if p.name == name), None)


def _state_dir(env: Mapping[str, str]) -> Path:
    """`DALS_STATE_DIR`, else `$XDG_STATE_HOME/dals`, else `~/.local/state/dals`."""
    explicit = env_vars.raw("DALS_STATE_DIR", env)
    if explicit:
        return Path(explicit).expanduser().resolve()
    xdg = env.get("XDG_STATE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "state"
    return (base / "dals").resolve()


_cache: tuple[tuple[tuple[str, str], ...], Settings] | None = None


def _snapshot() -> tuple[tuple[str, str], ...]:
    env = os.environ
    return tuple((k, env[k]) for k in sorted(env) if k.startswith("DALS_") or k in ("XDG_STATE_HOME", "HOME"))


def current() -> Settings:
    """The settings of the environment as it is now, built (and each unusable value said on
    stderr) once per distinct environment."""
    global _cache
    snapshot = _snapshot()
    if _cache is None or _cache[0] != snapshot:
        _cache = (snapshot, Settings.load())
        for problem in _cache[1].problems:
            print(f"dals: {problem}", file=sys.stderr, flush=True)
    return _cache[1]


# --- the settings read in many places, by name ---------------------------------------------------


def state_dir() -> Path:
    return current().state_dir


def external_restate() -> ExternalRestate | None:
    """The external Restate to use, or None for the embedded one. With only one of the two URLs
    set, nothing sensible can start: SystemExit with the SettingError's message."""
    settings = current()
    if settings.half_external is not None:
        raise SystemExit(f"dals: {settings.half_external}")
    return settings.external_restate


def default_model() -> str | None:
    """`DALS_MODEL`: a pydantic-ai model string or `offline`; None when unset."""
    return current().model


def retention_days() -> float | None:
    """`DALS_RETENTION_DAYS`: finished tasks older than this many days are purged by the runtime
    (at start, then hourly). Default 30; fractions allowed (`0.5` = 12 h); `0` (or `off`, `never`)
    keeps finished tasks forever."""
    return current().retention_days


def runtime_nice() -> int:
    """`DALS_RUNTIME_NICE`: the niceness the runtime's processes (Restate server, worker, and so
    the commands tasks run) start with. Default 5: on a busy machine the editor and `dals lsp` get
    the CPU first, and tasks use what is left; 0 = same priority as everything else (0-19)."""
    return current().runtime_nice


def worker_processes() -> int:
    """`DALS_WORKER_PROCESSES`: how many worker processes the runtime's supervisor runs (1-16,
    default 1). They share the worker port (`SO_REUSEPORT`), so Restate's connections, and the
    tasks on them, spread over the processes: more steps per second when many tasks run at once,
    one idle process's memory (~76 MiB) more per process."""
    return current().worker_processes


def worker_loop() -> str:
    """`DALS_WORKER_LOOP`: the worker's event loop, `uvloop` (default) or `asyncio`. uvloop makes
    one task's steps faster, asyncio's loop gave more steps per second with 25-50 tasks at once
    (docs/optimisation-log.md)."""
    return current().worker_loop


def restate_partitions() -> int:
    """`DALS_RESTATE_PARTITIONS`: the partitions the embedded Restate server gives a new data dir
    (1-64, default 1). Restate reads it only when it creates the data dir: an existing one keeps
    its count. One partition commits more steps together on one machine (docs/optimisation-log.md)."""
    return current().restate_partitions


def runtime_setting_problems() -> list[str]:
    """What is wrong with the settings the runtime reads when it starts (said by `dals up`, warned
    about by `dals doctor`)."""
    return [str(p) for p in current().problems if p.name in RUNTIME_VARS]
