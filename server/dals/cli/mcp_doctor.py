"""`dals doctor`'s MCP check: the servers configured where doctor can see them (`DALS_MCP_CONFIG`,
and the workspace's `.mcp.json` with `DALS_MCP_WORKSPACE_SERVERS=1`; an editor's `dals.mcpServers`
lives in the editor), each started for real and asked for its tools, then stopped.

Variables in `env`/`headers` are expanded from doctor's own environment, which should be the
one the runtime starts with; values are never printed.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from ..agent.mcp_config import describe, merged_servers
from ..lsp.config import Config


async def _probe(servers: dict[str, dict[str, Any]], timeout_s: float) -> dict[str, tuple[bool, str]]:
    from ..agent.mcp_servers import McpServerError, ServerPool

    pool = ServerPool()

    async def one(name: str, cfg: dict[str, Any]) -> tuple[bool, str]:
        began = time.monotonic()
        try:
            r = await pool.server(name, cfg, timeout_s)
            tools = await asyncio.wait_for(r.toolset.list_tools(), timeout_s)
        except McpServerError as e:
            return False, str(e)
        except Exception as e:  # noqa: BLE001 - whatever a broken server does, doctor reports it
            return False, f"MCP server {name!r} did not list its tools: {type(e).__name__}: {e}"[:400]
        return True, f"{len(tools)} tools, up in {time.monotonic() - began:.1f} s"

    try:
        found = await asyncio.gather(*(one(n, c) for n, c in servers.items()))
    finally:
        await pool.close()
    return dict(zip(servers, found))


def check_mcp(workspace: Path, cfg: Config, make_check) -> list[Any]:
    """One check per configured server (ok with its tool count, or warn with its error), plus the
    configuration's problems; nothing when no server is configured."""
    servers, problems = merged_servers({}, workspace, cfg.mcp_workspace_servers)
    out = [make_check("mcp", "warn", p, "fix the file; the other servers still work") for p in problems]
    if not servers:
        return out
    results = asyncio.run(_probe(servers, min(cfg.mcp_timeout_s, 30.0)))
    for name, (ok, said) in results.items():
        where = describe(servers[name])
        if ok:
            out.append(make_check("mcp", "ok", f"MCP server {name!r} ({where}): {said}"))
        else:
            out.append(
                make_check(
                    "mcp",
                    "warn",
                    said,
                    "tasks go on without its tools (a log event says why); "
                    f"a stdio server's stderr is in the state dir's logs/mcp/{name}.log",
                )
            )
    return out
