"""Every environment variable DALS reads, declared once: name, type, default, one-line doc.

Reading goes through `text`, `flag`, `number` and `whole`, which apply the one set of rules:
a value is stripped, empty is the same as unset (the default), a flag is on for `1`/`true`/`yes`/
`on` and off for `0`/`false`/`no`/`off` (any case), and a value that cannot be read is reported
one way: `parse` returns it as a problem beside the default, the readers say it on stderr as
`dals: NAME=...: ...; using DEFAULT` and use the default.
The ranges and messages of the runtime's counts and of retention live in `dals.config.settings`; the
LSP settings (the `dals.*` section) are the `Config` fields in `dals.lsp.config`.
docs/configuration.md lists the same variables (tests/unit/test_settings_docs.py checks it).
Standard library only: `dals lsp`'s fast start reads it before anything else is imported.
"""
from __future__ import annotations

import math
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Kind = Literal["text", "flag", "number", "whole", "path", "list", "json"]
ON = ("1", "true", "yes", "on")
OFF = ("0", "false", "no", "off")


@dataclass(frozen=True)
class EnvVar:
    name: str
    kind: Kind
    default: str | None
    doc: str
    internal: bool = False
    """Set by DALS for its own child processes, or by tests and benchmarks: not a user setting
    (not in docs/configuration.md)."""


VARS: tuple[EnvVar, ...] = (
    EnvVar("DALS_STATE_DIR", "path", None, "state dir: pidfiles, logs, ports, Restate data"),
    EnvVar("DALS_MODEL", "text", None, "model for new tasks: a pydantic-ai model string or `offline`"),
    EnvVar("DALS_APPROVAL", "text", "auto", "default task mode, `auto` or `review`"),
    EnvVar("DALS_COMMANDS_ALLOW", "list", None, "command prefixes that run without asking"),
    EnvVar("DALS_PRICES", "json", None, "model prices over the built-in table"),
    EnvVar("DALS_MCP_CONFIG", "path", None, "a `.mcp.json`-shaped file of MCP servers"),
    EnvVar("DALS_MCP_ALLOW", "list", None, "MCP tool names or globs that run without asking"),
    EnvVar("DALS_MCP_TIMEOUT_S", "number", "60", "seconds an MCP server gets to answer one call"),
    EnvVar("DALS_MCP_WORKSPACE_SERVERS", "flag", "0", "also start the workspace's own `.mcp.json` servers"),
    EnvVar("DALS_RESTATE_INGRESS_URL", "text", None, "an existing Restate's ingress URL"),
    EnvVar("DALS_RESTATE_ADMIN_URL", "text", None, "an existing Restate's admin URL"),
    EnvVar("DALS_RESTATE_SERVER_BIN", "path", None, "the `restate-server` binary to run"),
    EnvVar("DALS_CLIENT_KEY_FILE", "path", None, "the private key this process's clients sign inputs with"),
    EnvVar("DALS_CLIENT_PUBLIC_KEYS", "list", None, "public client keys whose signed inputs a worker accepts"),
    EnvVar("DALS_WORKERS", "text", "local", "where the workers are: `local` or `remote`"),
    EnvVar("DALS_HINT_PUSHES", "flag", "1", "take the worker's pushed events (off: read every change from Restate)"),
    EnvVar("DALS_LSP_FAST_START", "flag", "1", "answer `initialize` before pygls is imported"),
    EnvVar("DALS_RUNTIME_NICE", "whole", "5", "niceness of the runtime's processes (0-19)"),
    EnvVar("DALS_WORKER_PROCESSES", "whole", "1", "worker processes the supervisor runs (1-16)"),
    EnvVar("DALS_WORKER_LOOP", "text", "uvloop", "the worker's event loop, `uvloop` or `asyncio`"),
    EnvVar("DALS_EAGER_STEPS", "flag", "1", "go on with a journaled step's value while Restate stores it"),
    EnvVar("DALS_RESTATE_PARTITIONS", "whole", "1", "partitions of a new embedded Restate data dir (1-64)"),
    EnvVar("DALS_TASK_MAX_ATTEMPTS", "whole", "12", "failed attempts of one model request before a task pauses"),
    EnvVar("DALS_MODEL_TIMEOUT_S", "number", "600", "seconds one model request may take"),
    EnvVar("DALS_RETENTION_DAYS", "text", "30", "days finished tasks are kept (`0`/`off`/`never`: forever)"),
    EnvVar("DALS_STANDBY_WORKER", "flag", "1", "keep one warm spare worker for a fast restart", internal=True),
    EnvVar("DALS_INGRESS_URL", "text", None, "the runtime's ingress, given to its workers", internal=True),
    EnvVar("DALS_IDENTITY_KEYS", "list", None, "Restate's request-signing keys, given to workers", internal=True),
    EnvVar("DALS_FORCE_REPLAY", "flag", "0", "suspend and replay after every step (`make test-replay`)",
           internal=True),
    EnvVar("DALS_OFFLINE_REQUEST_LOG", "path", None, "where the offline model logs its requests (demo, tests)",
           internal=True),
    EnvVar("DALS_TEST_REVERT_DELAY_S", "number", "0", "seconds each undo/rewind step waits after its write (tests)",
           internal=True),
)
BY_NAME: dict[str, EnvVar] = {v.name: v for v in VARS}


def raw(name: str, environ: Mapping[str, str] | None = None) -> str:
    """The variable's value, stripped; "" when unset. KeyError for an undeclared name."""
    BY_NAME[name]
    return (os.environ if environ is None else environ).get(name, "").strip()


def text(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The value, or the declared default when unset or empty."""
    return raw(name, environ) or BY_NAME[name].default


def parse_flag(name: str, environ: Mapping[str, str] | None = None) -> tuple[bool, str | None]:
    """The one rule for on/off, and what is wrong with the value if anything (then the default)."""
    value, default = raw(name, environ).lower(), BY_NAME[name].default == "1"
    if value in ON:
        return True, None
    if value in OFF:
        return False, None
    if not value:
        return default, None
    return default, f"{name}={value!r} is neither on (1, true, yes, on) nor off (0, false, no, off); " \
                    f"using {'1' if default else '0'}"


def parse_number(name: str, environ: Mapping[str, str] | None = None, *, minimum: float = -math.inf,
                 whole: bool = False) -> tuple[float, str | None]:
    """A number >= `minimum` (a whole one with `whole`), and what is wrong with the value if anything.
    The caller clamps further where that is the setting's rule (`max(1, ...)`)."""
    value, default = raw(name, environ), float(BY_NAME[name].default or 0)
    if not value:
        return default, None
    try:
        number = float(int(value)) if whole else float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number < minimum:
        kind = "a whole number" if whole else "a number"
        at_least = f" >= {minimum:g}" if minimum > -math.inf else ""
        return default, f"{name}={value!r} is not {kind}{at_least}; using {default:g}"
    return number, None


def flag(name: str, environ: Mapping[str, str] | None = None) -> bool:
    value, problem = parse_flag(name, environ)
    say(problem)
    return value


def number(name: str, environ: Mapping[str, str] | None = None, *, minimum: float = -math.inf) -> float:
    value, problem = parse_number(name, environ, minimum=minimum)
    say(problem)
    return value


def whole(name: str, environ: Mapping[str, str] | None = None, *, minimum: float = -math.inf) -> int:
    value, problem = parse_number(name, environ, minimum=minimum, whole=True)
    say(problem)
    return int(value)


def say(problem: str | None) -> None:
    """Report a bad value: on stderr, as `dals: PROBLEM`."""
    if problem:
        print(f"dals: {problem}", file=sys.stderr)
