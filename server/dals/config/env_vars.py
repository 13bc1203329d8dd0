"""Every environment variable DALS reads, declared once: name, type, default, accepted values,
one-line doc; and the one way a value is read.

The rules: a value is stripped, and empty is the same as unset (the default); a flag is on for
`1`/`true`/`yes`/`on` and off for `0`/`false`/`no`/`off` (any case); a setting that can be turned
off (`off_words`) is off for those words. A value that cannot be read is a `SettingError` naming
the variable, the value and what it accepts; `dals.config.settings` collects them, uses the default in
their place and says each once on stderr. The typed values: `dals.config.settings.current()`.
The LSP settings (the `dals.*` section) are the `Config` fields in `dals.lsp.config`.
docs/configuration.md lists the same variables (tests/unit/config/test_settings_docs.py checks it).
Standard library only.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Kind = Literal["text", "flag", "number", "whole", "path", "list", "json"]
ON = ("1", "true", "yes", "on")
OFF = ("0", "false", "no", "off")


class SettingError(ValueError):
    """A value DALS cannot use: names the variable, the value, what it accepts and what is used."""

    def __init__(self, name: str, value: str, accepted: str, using: str):
        self.name, self.value, self.accepted, self.using = name, value, accepted, using
        super().__init__(f"{name}={value!r} is not {accepted}; using {using}")


@dataclass(frozen=True)
class EnvVar:
    name: str
    kind: Kind
    default: str | None
    doc: str
    internal: bool = False
    """Set by DALS for its own child processes, or by tests and benchmarks: not a user setting
    (not in docs/configuration.md)."""
    choices: tuple[str, ...] = ()
    """For `text`: the accepted values (lower case), when they are a fixed set."""
    minimum: float = -math.inf
    maximum: float = math.inf
    off_words: tuple[str, ...] = ()
    """For `number`/`whole`: words (and 0) that turn the setting off (read as None)."""

    def accepted(self) -> str:
        """What the variable accepts, in words (for errors and docs)."""
        if self.kind == "flag":
            return "on (" + ", ".join(ON) + ") or off (" + ", ".join(OFF) + ")"
        if self.choices:
            return "one of " + ", ".join(self.choices)
        if self.kind in ("number", "whole"):
            what = "a whole number" if self.kind == "whole" else "a number"
            if self.maximum < math.inf:
                what += f" from {self.minimum:g} to {self.maximum:g}"
            elif self.minimum > -math.inf:
                what += f" >= {self.minimum:g}"
            return what + (" (or " + ", ".join(("0", *self.off_words)) + ": off)" if self.off_words else "")
        return "a text"


VARS: tuple[EnvVar, ...] = (
    EnvVar("DALS_STATE_DIR", "path", None, "state dir: pidfiles, logs, ports, Restate data"),
    EnvVar("DALS_MODEL", "text", None, "model for new tasks: a pydantic-ai model string or `offline`"),
    EnvVar("DALS_APPROVAL", "text", "auto", "default task mode, `auto` or `review`"),
    EnvVar("DALS_COMMANDS_ALLOW", "list", None, "command prefixes that run without asking"),
    EnvVar("DALS_PRICES", "json", None, "model prices over the built-in table"),
    EnvVar("DALS_MCP_CONFIG", "path", None, "a `.mcp.json`-shaped file of MCP servers"),
    EnvVar("DALS_MCP_ALLOW", "list", None, "MCP tool names or globs that run without asking"),
    EnvVar("DALS_MCP_TIMEOUT_S", "number", "60", "seconds an MCP server gets to answer one call", minimum=0),
    EnvVar("DALS_MCP_WORKSPACE_SERVERS", "flag", "0", "also start the workspace's own `.mcp.json` servers"),
    EnvVar("DALS_RESTATE_INGRESS_URL", "text", None, "an existing Restate's ingress URL"),
    EnvVar("DALS_RESTATE_ADMIN_URL", "text", None, "an existing Restate's admin URL"),
    EnvVar("DALS_RESTATE_SERVER_BIN", "path", None, "the `restate-server` binary to run"),
    EnvVar("DALS_CLIENT_KEY_FILE", "path", None, "the private key this process's clients sign inputs with"),
    EnvVar("DALS_CLIENT_PUBLIC_KEYS", "list", None, "public client keys whose signed inputs a worker accepts"),
    EnvVar("DALS_RUNTIME_NICE", "whole", "5", "niceness of the runtime's processes (0-19)", minimum=0, maximum=19),
    EnvVar("DALS_WORKER_PROCESSES", "whole", "1", "worker processes the supervisor runs (1-16)", minimum=1, maximum=16),
    EnvVar(
        "DALS_WORKER_LOOP",
        "text",
        "uvloop",
        "the worker's event loop, `uvloop` or `asyncio`",
        choices=("uvloop", "asyncio"),
    ),
    EnvVar("DALS_EAGER_STEPS", "flag", "1", "go on with a journaled step's value while Restate stores it"),
    EnvVar(
        "DALS_RESTATE_PARTITIONS",
        "whole",
        "1",
        "partitions of a new embedded Restate data dir (1-64)",
        minimum=1,
        maximum=64,
    ),
    EnvVar("DALS_TASK_MAX_ATTEMPTS", "whole", "12", "failed attempts of one model request before a task pauses"),
    EnvVar("DALS_MODEL_TIMEOUT_S", "number", "600", "seconds one model request may take", minimum=0),
    EnvVar(
        "DALS_CONTEXT_MAX_TOKENS", "whole", None, "the model's context window in tokens (over its profile's)", minimum=1
    ),
    EnvVar(
        "DALS_RETENTION_DAYS",
        "number",
        "30",
        "days finished tasks are kept (`0`/`off`/`never`: forever)",
        minimum=0,
        off_words=("off", "never", "forever"),
    ),
    EnvVar("DALS_INGRESS_URL", "text", None, "the runtime's ingress, given to its workers", internal=True),
    EnvVar("DALS_IDENTITY_KEYS", "list", None, "Restate's request-signing keys, given to workers", internal=True),
    EnvVar("DALS_FORCE_REPLAY", "flag", "0", "suspend and replay after every step (`make test-replay`)", internal=True),
    EnvVar(
        "DALS_OFFLINE_REQUEST_LOG",
        "path",
        None,
        "where the offline model logs its requests (demo, tests)",
        internal=True,
    ),
    EnvVar(
        "DALS_TEST_REVERT_DELAY_S",
        "number",
        "0",
        "seconds each undo/rewind step waits after its write (tests)",
        internal=True,
        minimum=0,
    ),
)
BY_NAME: dict[str, EnvVar] = {v.name: v for v in VARS}


def raw(name: str, environ: Mapping[str, str] | None = None) -> str:
    """The variable's value, stripped; "" when unset. KeyError for an undeclared name."""
    BY_NAME[name]
    return (os.environ if environ is None else environ).get(name, "").strip()


def text(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The value, or the declared default when unset or empty."""
    return raw(name, environ) or BY_NAME[name].default


def parse(name: str, environ: Mapping[str, str] | None = None) -> bool | float | str | None:
    """The variable's typed value by the one set of rules (see the module): a bool for a flag, a
    float for a number or whole (None when turned off), the text (lower case with `choices`), else
    the declared default. SettingError for a value it cannot use."""
    var = BY_NAME[name]
    value = raw(name, environ)
    if not value:
        value = var.default or ""
        if not value:
            return None
    lowered = value.lower()
    if var.kind == "flag":
        if lowered in ON or lowered in OFF:
            return lowered in ON
        raise SettingError(name, value, var.accepted(), var.default or "0")
    if var.kind in ("number", "whole"):
        if lowered in var.off_words:
            return None
        try:
            number = float(int(value)) if var.kind == "whole" else float(value)
        except ValueError:
            number = math.nan
        if not (math.isfinite(number) and var.minimum <= number <= var.maximum):
            raise SettingError(name, value, var.accepted(), var.default or "0")
        return None if var.off_words and number == 0 else number
    if var.choices:
        if lowered not in var.choices:
            raise SettingError(name, value, var.accepted(), var.default or "")
        return lowered
    return value
