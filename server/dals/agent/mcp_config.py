"""MCP server configuration: the `.mcp.json` shape, read, validated and merged from its sources.

A server is `{"command", "args"?, "env"?, "cwd"?}` (stdio) or `{"type": "http", "url",
"headers"?}` (streamable HTTP). Sources, earlier ones winning on a name: the setting
`dals.mcpServers`, the file `DALS_MCP_CONFIG` names, the workspace's `.mcp.json` (only when the
user's own settings allow it). `${VAR}` / `${VAR:-default}` in `env` and `headers` values is
expanded from the worker's environment when the server starts, never earlier.

Problems are said naming the server or file and never quote an `env` or `headers` value.
Pure: no pydantic-ai import (loading `pydantic_ai.mcp` costs a second; see `mcp_servers`).
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..config import env_vars

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,31}$")  # `__` separates server and tool in mcp__s__t
PREFIX = "mcp__"
DEFAULT_TIMEOUT_S = 60.0
WORKSPACE_FILE = ".mcp.json"
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
# What a stdio server gets from the worker's environment besides its own `env`: enough to find
# programs and a home, never the worker's provider keys or DALS's own variables.
BASE_ENV = ("PATH", "HOME", "USER", "LOGNAME", "SHELL", "TERM", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR")


class McpConfigError(ValueError):
    """A server cannot be started as configured (an unset variable, …); the message names it."""


def tool_name(server: str, tool: str) -> str:
    return f"{PREFIX}{server}__{tool}"


def split_tool_name(name: str) -> tuple[str, str] | None:
    """`mcp__docs__search` → (`docs`, `search`); None for any other name."""
    if not name.startswith(PREFIX):
        return None
    server, sep, tool = name[len(PREFIX) :].partition("__")
    return (server, tool) if sep and server and tool else None


def tool_allowed(name: str, allow: list[str] | None) -> bool:
    """`mcp.allow`: exact names or globs (`mcp__docs__*`, `*`)."""
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in allow or ())


def parse_servers(raw: Any, source: str) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The valid servers of an `mcpServers` object (normalised) and a problem per invalid one."""
    if not isinstance(raw, dict):
        return {}, [f"{source}: mcpServers must be an object of servers by name"]
    servers: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    for name, cfg in raw.items():
        problem = _invalid_name(name)
        if problem is None:
            try:
                if isinstance(cfg, dict) and cfg.get("disabled") is True:
                    continue
                servers[name] = _server(cfg)
                continue
            except McpConfigError as e:
                problem = str(e)
        problems.append(f"MCP server {name!r} ({source}) ignored: {problem}")
    return servers, problems


def _invalid_name(name: Any) -> str | None:
    if isinstance(name, str) and NAME.match(name):
        return None
    return "a server name is 1-32 letters, digits or '-' (its tools are named mcp__<server>__<tool>)"


def _strings(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise McpConfigError(f"'{what}' must be an object of strings")  # never quote the values
    return dict(value)


def _server(cfg: Any) -> dict[str, Any]:
    if not isinstance(cfg, dict):
        raise McpConfigError("must be an object")
    kind = cfg.get("type") or ("http" if "url" in cfg else "stdio")
    if kind in ("http", "streamable-http", "streamableHttp"):
        url = cfg.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise McpConfigError("'url' must be an http(s) URL")
        return {"type": "http", "url": url, "headers": _strings(cfg.get("headers"), "headers")}
    if kind != "stdio":
        raise McpConfigError(f"'type' must be 'stdio' or 'http', got {kind!r}")
    command = cfg.get("command")
    if not isinstance(command, str) or not command.strip():
        raise McpConfigError("'command' must be a non-empty string")
    args = cfg.get("args", [])
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise McpConfigError("'args' must be a list of strings")
    cwd = cfg.get("cwd")
    if cwd is not None and not isinstance(cwd, str):
        raise McpConfigError("'cwd' must be a string")
    return {"type": "stdio", "command": command, "args": list(args), "env": _strings(cfg.get("env"), "env"), "cwd": cwd}


def load_file(path: Path, source: str) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The servers of a `{"mcpServers": {...}}` file; a missing or unreadable file is a problem."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}, [f"{source}: {path} does not exist"]
    except (OSError, UnicodeDecodeError) as e:
        return {}, [f"{source}: cannot read {path}: {e}"]
    except ValueError as e:
        return {}, [f"{source}: {path} is not valid JSON: {e}"]
    if not isinstance(data, dict) or "mcpServers" not in data:
        return {}, [f'{source}: {path} has no "mcpServers" object']
    return parse_servers(data["mcpServers"], f"{source} {path}")


def merged_servers(
    setting: dict[str, dict[str, Any]] | None,
    workspace: Path | None,
    workspace_allowed: bool,
    environ: Mapping[str, str] | None = None,
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The servers a task gets: `dals.mcpServers` (already parsed), then `DALS_MCP_CONFIG`, then the
    workspace's `.mcp.json` when allowed by the user's settings; the first source naming a server
    wins. A workspace `.mcp.json` that is not allowed is left unread (and said once in the docs)."""
    environ = os.environ if environ is None else environ
    servers: dict[str, dict[str, Any]] = dict(setting or {})
    problems: list[str] = []
    sources: list[tuple[Path, str]] = []
    if env_vars.raw("DALS_MCP_CONFIG", environ):
        sources.append((Path(env_vars.raw("DALS_MCP_CONFIG", environ)).expanduser(), "DALS_MCP_CONFIG"))
    if workspace is not None and workspace_allowed and (workspace / WORKSPACE_FILE).is_file():
        sources.append((workspace / WORKSPACE_FILE, "workspace"))
    for path, source in sources:
        found, said = load_file(path, source)
        problems += said
        for name, cfg in found.items():
            servers.setdefault(name, cfg)
    return servers, problems


def expand(value: str, environ: Mapping[str, str], where: str) -> str:
    """`${VAR}` and `${VAR:-default}` from `environ`; an unset VAR without a default is an error
    naming VAR and `where` (the server and field), never the value."""

    def one(m: re.Match[str]) -> str:
        name, default = m[1], m[2]
        if name in environ:
            return environ[name]
        if default is not None:
            return default
        raise McpConfigError(f"{where}: environment variable {name} is not set in the worker's environment")

    return _VAR.sub(one, value)


def expanded(values: dict[str, str], environ: Mapping[str, str], where: str) -> dict[str, str]:
    return {k: expand(v, environ, f"{where} {k!r}") for k, v in values.items()}


def stdio_env(cfg: dict[str, Any], environ: Mapping[str, str], server: str) -> dict[str, str]:
    """A stdio server's whole environment: the minimal base from the worker plus its own `env`."""
    base = {k: environ[k] for k in BASE_ENV if k in environ}
    return base | expanded(cfg.get("env") or {}, environ, f"MCP server {server!r} env")


def describe(cfg: dict[str, Any]) -> str:
    """A one-line, secret-free description: the command line or URL, never env or headers."""
    if cfg["type"] == "http":
        return cfg["url"]
    return " ".join([cfg["command"], *cfg.get("args", [])])
