"""A task's MCP toolset on the worker, from the spec's `mcp` field: the servers' configuration is
read here (never carried in the journal: see `dals.agent.mcp_handoff`), and the configuration
problems the front end met become `log` events at the start of the task. The tools each server
listed are kept in the task's state (`MCP_TOOLS`) for the turns after it (a conversation's
follow-ups): a server down at a later turn keeps offering them, each call a tool error naming it.

`dals.agent.mcp_tools` (and so `pydantic_ai.mcp`, on the first server start) is imported only
for a task that has servers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from restate import ObjectContext

from ..config.settings import state_dir
from .task_record import TaskRecord
from .task_spec import TaskSpec

MCP_TOOLS = "mcpTools"  # state: server name → the tools it listed last in this task


async def mcp_toolsets(ctx: ObjectContext, spec: TaskSpec, record: TaskRecord) -> list[Any]:
    field = spec.mcp or {}
    at = record.summary.get("updatedAt") or spec.createdAt  # from journaled data: replays say the same
    for problem in field.get("problems") or ():
        record.emit("log", f"MCP configuration: {problem}"[:300], at, {"error": problem})
    if not field.get("servers"):
        return []
    from ..agent.mcp_config import DEFAULT_TIMEOUT_S
    from ..agent.mcp_handoff import resolve
    from ..agent.mcp_tools import McpTools

    servers, missing = resolve(field, state_dir() / "mcp")
    known: dict[str, list[dict[str, Any]]] = {}
    remember: Callable[[dict[str, list[dict[str, Any]]]], None] | None = None
    if spec.conversation:  # only a conversation has later turns; other tasks' journals stay as written
        known = await ctx.get(MCP_TOOLS) or {}

        def remember(tools: dict[str, list[dict[str, Any]]]) -> None:
            ctx.set(MCP_TOOLS, tools)

    return [
        McpTools(
            servers,
            missing,
            list(field.get("allow") or []),
            float(field.get("timeoutS") or DEFAULT_TIMEOUT_S),
            known=known,
            remember=remember,
        )
    ]
