"""The `dals` settings: one model, merged in layers, later layers winning:

    defaults < `pyproject.toml` [tool.dals] < `.dals.toml` (workspace) < environment
             < LSP initializationOptions < `workspace/configuration` (section `dals`)

`Config.for_workspace(root)` builds the first four layers; the LSP server merges the last two
with `merge()`. An invalid value is reported in `problems` (shown to the user) and ignored: the
value of the layer below stays. See docs/configuration.md.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..client.pricing import PriceError, parse_prices
from ..config import settings as env_settings
from ..config.env_vars import raw
from ..config.settings import DEFAULT_ALLOW

APPROVAL_MODES = ("auto", "review")
MIN_CONTEXT_TOKENS = 1000  # `context.maxTokens`: below it, no conversation fits
KEYS = (
    "model",
    "restate.ingressUrl",
    "restate.adminUrl",
    "approval",
    "approvalTimeout",
    "commands.allow",
    "prices",
    "mcpServers",
    "mcp.allow",
    "mcp.timeoutS",
    "mcp.workspaceServers",
    "context.maxTokens",
)
# A repository's own files must not point DALS at another Restate, nor allow every command, nor
# start programs as MCP servers (or let its own .mcp.json do so), nor let their tools run unasked.
_NOT_FROM_FILES = ("restate.ingressUrl", "restate.adminUrl", "mcpServers", "mcp.allow", "mcp.workspaceServers")


@dataclass
class Config:
    model: str | None = None
    """pydantic-ai model string (`anthropic:claude-sonnet-4-5`, `openai-chat:gpt-4.1`, …) or
    `offline`; env `DALS_MODEL`. Fixed per task when it starts; None: `dals.startTask` refuses."""
    ingress_url: str | None = None
    """An existing Restate's ingress URL (`restate.ingressUrl`, env `DALS_RESTATE_INGRESS_URL`);
    None: the embedded runtime. Not accepted from workspace files."""
    admin_url: str | None = None
    """An existing Restate's admin URL (`restate.adminUrl`, env `DALS_RESTATE_ADMIN_URL`); set
    together with ingress_url. Not accepted from workspace files."""
    approval: str = "auto"
    """Default task mode (env `DALS_APPROVAL`): `auto` applies edits at once; `review` asks
    before every edit. A task's `mode` argument overrides it."""
    approval_timeout_s: float | None = None
    """Seconds an approval may stay unanswered before it counts as a rejection (`approvalTimeout`);
    unset or 0: wait as long as it takes (the wait is durable)."""
    commands_allow: list[str] = field(default_factory=lambda: list(DEFAULT_ALLOW))
    """Command prefixes that run without asking (`commands.allow`, env `DALS_COMMANDS_ALLOW`:
    a JSON list or comma-separated). One simple command whose words start with a prefix runs;
    anything else waits for approval. `*` allows everything (not accepted from workspace files)."""
    prices: dict[str, tuple[float, float]] | None = None
    """Model prices, USD per 1M input/output tokens, over the built-in table (`prices`, env
    `DALS_PRICES` as JSON): `{"ollama:*": [0, 0], "my-model": {"input": 1, "output": 2}}`."""
    mcp_servers: dict[str, dict[str, Any]] = field(default_factory=dict)
    """MCP servers whose tools the agent gets (`mcpServers`, the inner object of the `.mcp.json`
    shape): `{NAME: {"command", "args", "env", "cwd"} | {"type": "http", "url", "headers"}}`;
    merged at task start with `DALS_MCP_CONFIG` and the workspace `.mcp.json` (docs/mcp.md).
    Not accepted from workspace files."""
    mcp_allow: list[str] = field(default_factory=list)
    """MCP tool names or globs that run without asking (`mcp.allow`, env `DALS_MCP_ALLOW`:
    `["mcp__docs__*"]`); any other MCP call waits for approval. Not accepted from workspace files."""
    mcp_timeout_s: float = 60.0
    """Seconds an MCP server gets to answer one call (`mcp.timeoutS`, env `DALS_MCP_TIMEOUT_S`);
    past it the model gets a tool error saying the call may still run in the server."""
    mcp_workspace_servers: bool = False
    """Also start the servers of the workspace's own `.mcp.json` (`mcp.workspaceServers`). Only
    from your own settings (editor or environment `DALS_MCP_WORKSPACE_SERVERS=1`), never a
    workspace file: a cloned repository must not start programs by itself."""
    context_max_tokens: int | None = None
    """The model's context window in tokens (`context.maxTokens`, env `DALS_CONTEXT_MAX_TOKENS`), over
    what the model's profile says; None: the profile's, else 128,000. Long conversations are compacted
    to fit it (docs/tasks.md). Fixed per task when it starts."""
    mcp_problems: list[str] = field(default_factory=list)
    """The `mcpServers` problems (also in `problems`): each task also reports them as `log` events."""
    problems: list[str] = field(default_factory=list)
    """Invalid values met while merging, each naming the setting, the reason and the source."""

    @classmethod
    def from_env(cls) -> Config:
        """Defaults < environment (no workspace files)."""
        c = cls()
        c._merge_env()
        return c

    @classmethod
    def for_workspace(cls, root: str | Path | None) -> Config:
        """Defaults < `pyproject.toml` [tool.dals] < `.dals.toml` < environment, for a workspace root
        (None: no workspace files)."""
        c = cls()
        if root:
            for source, section in workspace_files(Path(root), c.problems):
                c.merge(section, source=source)
        c._merge_env()
        return c

    def merge(self, raw: Any, source: str | None = None) -> None:
        """Apply a settings object (`{"dals": {...}}` or the section itself); bad values are
        reported in `problems` and ignored. `source` names the layer in those messages."""
        if not isinstance(raw, dict):
            return
        section = raw.get("dals", raw) if isinstance(raw.get("dals"), dict) else raw
        from_file = source is not None and ".toml" in source
        where = f" (from {source})" if source else ""
        for key, value in _flatten(section).items():
            if value is None:
                continue
            if from_file and key not in KEYS:
                self.problems.append(f"dals.{key} is not a setting{where}; known: {', '.join(KEYS)}")
            elif from_file and key in _NOT_FROM_FILES:
                self.problems.append(
                    f"dals.{key} is not accepted from a workspace file{where}: set it in the "
                    "editor settings or the environment"
                )
            elif key == "model":
                if isinstance(value, str) and value.strip():
                    self.model = value.strip()
                elif value != "":
                    self.problems.append(f"dals.model must be a non-empty string{where}, got {value!r}")
            elif key in ("restate.ingressUrl", "restate.adminUrl"):
                attr = "ingress_url" if key.endswith("ingressUrl") else "admin_url"
                if isinstance(value, str) and value.startswith(("http://", "https://")):
                    setattr(self, attr, value.rstrip("/"))
                elif value != "":
                    self.problems.append(f"dals.{key} must be an http(s) URL{where}, got {value!r}")
            elif key == "approval":
                if value in APPROVAL_MODES:
                    self.approval = value
                else:
                    self.problems.append(f"dals.approval must be 'auto' or 'review'{where}, got {value!r}")
            elif key == "approvalTimeout":
                if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
                    self.approval_timeout_s = float(value) or None
                else:
                    self.problems.append(f"dals.approvalTimeout must be a number of seconds >= 0{where}, got {value!r}")
            elif key == "commands.allow":
                if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                    self.problems.append(f"dals.commands.allow must be a list of strings{where}")
                elif from_file and "*" in value:
                    self.problems.append(
                        f"dals.commands.allow: '*' is not accepted from a workspace file{where}: "
                        "set it in the editor settings or the environment"
                    )
                else:
                    self.commands_allow = [v.strip() for v in value if v.strip()]
            elif key == "mcpServers":
                from ..agent.mcp_config import parse_servers

                self.mcp_servers, said = parse_servers(value, f"dals.mcpServers{where}")
                self.mcp_problems = said
                self.problems += said
            elif key == "mcp.allow":
                if isinstance(value, list) and all(isinstance(v, str) for v in value):
                    self.mcp_allow = [v.strip() for v in value if v.strip()]
                else:
                    self.problems.append(f"dals.mcp.allow must be a list of tool names or globs{where}")
            elif key == "mcp.timeoutS":
                if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
                    self.mcp_timeout_s = float(value)
                else:
                    self.problems.append(f"dals.mcp.timeoutS must be a number of seconds > 0{where}, got {value!r}")
            elif key == "mcp.workspaceServers":
                if isinstance(value, bool):
                    self.mcp_workspace_servers = value
                else:
                    self.problems.append(f"dals.mcp.workspaceServers must be true or false{where}, got {value!r}")
            elif key == "context.maxTokens":
                if isinstance(value, int) and not isinstance(value, bool) and value >= MIN_CONTEXT_TOKENS:
                    self.context_max_tokens = value
                else:
                    self.problems.append(
                        f"dals.context.maxTokens must be a whole number of tokens >= "
                        f"{MIN_CONTEXT_TOKENS}{where}, got {value!r}"
                    )
            elif key == "prices":
                try:
                    self.prices = {**(self.prices or {}), **parse_prices(value)}
                except PriceError as e:
                    self.problems.append(f"dals.prices: {e}{where}")

    def _merge_env(self) -> None:
        env: dict[str, Any] = {"model": env_settings.default_model()}
        try:
            ext = env_settings.external_restate()
        except SystemExit as e:
            self.problems.append(str(e))
            ext = None
        if ext:
            env["restate"] = {"ingressUrl": ext.ingress_url, "adminUrl": ext.admin_url}
        if raw("DALS_APPROVAL"):
            env["approval"] = raw("DALS_APPROVAL")
        if raw("DALS_COMMANDS_ALLOW"):
            env["commands"] = {"allow": _parse_list(raw("DALS_COMMANDS_ALLOW"))}
        if raw("DALS_PRICES"):
            env["prices"] = raw("DALS_PRICES")
        mcp: dict[str, Any] = {}
        if raw("DALS_MCP_ALLOW"):
            mcp["allow"] = _parse_list(raw("DALS_MCP_ALLOW"))
        if raw("DALS_MCP_TIMEOUT_S"):
            try:
                mcp["timeoutS"] = float(raw("DALS_MCP_TIMEOUT_S"))
            except ValueError:
                mcp["timeoutS"] = raw("DALS_MCP_TIMEOUT_S")  # reported by merge()
        if raw("DALS_MCP_WORKSPACE_SERVERS"):
            settings = env_settings.current()
            mcp["workspaceServers"] = settings.mcp_workspace_servers
            if problem := settings.problem("DALS_MCP_WORKSPACE_SERVERS"):
                self.problems.append(str(problem))
        if mcp:
            env["mcp"] = mcp
        if raw("DALS_CONTEXT_MAX_TOKENS"):
            try:
                env["context"] = {"maxTokens": int(raw("DALS_CONTEXT_MAX_TOKENS"))}
            except ValueError:
                env["context"] = {"maxTokens": raw("DALS_CONTEXT_MAX_TOKENS")}  # reported by merge()
        self.merge(env, source="environment")


def workspace_files(root: Path, problems: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """The `dals` sections of the workspace's settings files, lowest layer first."""
    found: list[tuple[str, dict[str, Any]]] = []
    for name in ("pyproject.toml", ".dals.toml"):
        path = root / name
        if not path.is_file():
            continue
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
            problems.append(f"{path} ignored: {e}")
            continue
        section = data.get("tool", {}).get("dals") if name == "pyproject.toml" else data
        if isinstance(section, dict) and section:
            found.append((f"{path.name}" + (" [tool.dals]" if name == "pyproject.toml" else ""), section))
    return found


def _parse_list(raw: str) -> Any:
    """`DALS_COMMANDS_ALLOW`: a JSON list, or comma-separated prefixes."""
    if raw.startswith("["):
        try:
            return json.loads(raw)
        except ValueError:
            return raw  # reported by merge() as not a list
    return [part.strip() for part in raw.split(",") if part.strip()]


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and key in ("restate", "commands", "mcp", "context"):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out
