"""A task's MCP toolset on the worker, from the spec's `mcp` field: the servers' configuration is
read here (never carried in the journal: see `dals.agent.mcp_handoff`), and the configuration
problems the front end met become `log` events at the start of the task.

`dals.agent.mcp_tools` (and so `pydantic_ai.mcp`, on the first server start) is imported only
for a task that has servers.
"""
from __future__ import annotations

from typing import Any

from ..config.settings import state_dir
from .task_record import TaskRecord
from .task_spec import TaskSpec


def mcp_toolsets(spec: TaskSpec, record: TaskRecord) -> list[Any]:
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
    return [McpTools(servers, missing, list(field.get("allow") or []),
                     float(field.get("timeoutS") or DEFAULT_TIMEOUT_S))]
