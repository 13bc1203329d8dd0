"""How a task's MCP configuration reaches the worker while `env` and `headers` values stay out of
Restate (the task's spec is the handler's journaled input).

The front end (`dals lsp`, `dals run`) writes the task's merged servers, values included, to a
file readable only by the user (0600) under `<state dir>/mcp/`, named by a keyed hash of its
content, and puts in the spec only the server names, that hash (`ref`), `mcp.allow`,
`mcp.timeoutS` and the configuration problems it met. The worker reads the file by `ref` (and
checks the hash). A worker on another machine (no shared state dir) uses its own
`DALS_MCP_CONFIG` for those names instead. `${VAR}` is expanded by the worker when it starts a
server (`mcp_servers`), so the values behind variables are never written anywhere by DALS.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..config import env_vars
from ..local.once_files import first_written
from .mcp_config import DEFAULT_TIMEOUT_S, WORKSPACE_FILE, load_file, merged_servers

KEY_FILE = "ref.key"


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _key(folder: Path) -> bytes:
    """A random key per state dir: the `ref` of a configuration says nothing about its values."""
    return first_written(folder / KEY_FILE, secrets.token_bytes(32), 0o600)


def _body(servers: dict[str, dict[str, Any]]) -> bytes:
    return json.dumps(servers, sort_keys=True, separators=(",", ":")).encode()


def store(folder: Path, servers: dict[str, dict[str, Any]]) -> str:
    """Write `servers` (0600) and return its `ref`; the same configuration gives the same file."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    body = _body(servers)
    ref = hmac.new(_key(folder), body, hashlib.sha256).hexdigest()
    path = folder / f"{ref}.json"
    if not path.exists():
        _write_private(path, body)
    return ref


def load(folder: Path, ref: str) -> dict[str, dict[str, Any]] | None:
    """The configuration stored under `ref`, or None (absent here, or not what `ref` names)."""
    if not ref.isalnum():
        return None
    try:
        body = (folder / f"{ref}.json").read_bytes()
        key = (folder / KEY_FILE).read_bytes()
    except OSError:
        return None
    if not hmac.compare_digest(hmac.new(key, body, hashlib.sha256).hexdigest(), ref):
        return None
    servers = json.loads(body)
    return servers if isinstance(servers, dict) else None


def spec_field(
    servers: dict[str, dict[str, Any]], problems: list[str], allow: list[str], timeout_s: float, folder: Path
) -> dict[str, Any] | None:
    """The spec's `mcp` field (no `env`/`headers` values in it), or None with nothing to say."""
    if not servers and not problems:
        return None
    return {
        "servers": sorted(servers),
        "ref": store(folder, servers) if servers else None,
        "allow": list(allow),
        "timeoutS": timeout_s or DEFAULT_TIMEOUT_S,
        "problems": list(problems),
    }


def resolve(
    field: dict[str, Any], folder: Path, environ: Mapping[str, str] | None = None
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Worker side: the configuration of each server the spec names, and why a server has none."""
    environ = os.environ if environ is None else environ
    names = list(field.get("servers") or [])
    stored = load(folder, field["ref"]) if field.get("ref") else None
    found = {n: stored[n] for n in names if stored and n in stored}
    missing: dict[str, str] = {}
    rest = [n for n in names if n not in found]
    if rest:
        own: dict[str, dict[str, Any]] = {}
        if env_vars.raw("DALS_MCP_CONFIG", environ):
            own, _ = load_file(Path(env_vars.raw("DALS_MCP_CONFIG", environ)).expanduser(), "DALS_MCP_CONFIG")
        for name in rest:
            if name in own:
                found[name] = own[name]
            else:
                missing[name] = (
                    "its configuration is not on this worker (no stored configuration for this task "
                    "in the state dir, and not in the worker's own DALS_MCP_CONFIG)"
                )
    return found, missing


def task_field(
    setting: dict[str, dict[str, Any]],
    setting_problems: list[str],
    workspace: Path,
    workspace_allowed: bool,
    allow: list[str],
    timeout_s: float,
    folder: Path,
) -> dict[str, Any] | None:
    """Front end: the `mcp` field of a new task's spec, from the user's settings, `DALS_MCP_CONFIG`
    and (if allowed) the workspace's `.mcp.json`; a `.mcp.json` left unread is said too.

    `setting` is the first source: `dals.mcpServers` for `dals lsp`; for the planned `dals acp`,
    `session/new`'s `mcpServers` (a list of `{name, command, args, env: [{name, value}]}` or
    `{type: "http", name, url, headers: [{name, value}]}`), turned into this shape with
    `mcp_config.parse_servers` by that endpoint."""
    servers, problems = merged_servers(setting, workspace, workspace_allowed)
    if not workspace_allowed and (workspace / WORKSPACE_FILE).is_file():
        problems.append(
            f"the workspace's {WORKSPACE_FILE} was not read: its servers start only when your own "
            "settings set dals.mcp.workspaceServers to true"
        )
    return spec_field(servers, list(setting_problems) + problems, allow, timeout_s, folder)
