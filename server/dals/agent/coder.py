"""The coding agent: a plain pydantic-ai `Agent` with the contract's tools and the system prompt.

Durability is added around it by `dals.durable`; nothing here knows about Restate or LSP.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic_ai import Agent
from pydantic_ai.models import Model
from pydantic_ai.toolsets.abstract import AbstractToolset

from .deps import TaskDeps
from .tools import TOOLS

SYSTEM_PROMPT = """\
You are DALS, a careful coding agent working inside the user's workspace.
Work in small, verifiable steps:
1. Plan briefly, then look before you change: list_files / search to find things, read_file before editing.
2. Change as little as needed: prefer edit_file with an exact, unique `old` snippet (replace_all to rename),
   multi_edit for several changes to one file; write_file for new files. Read big files in ranges (offset, limit).
3. If a tool says a file "changed since read", read it again and redo your edit on the new content.
4. After editing, check: diagnostics (what the user's editor reports), and the project's checks (tests,
   linters) with run_command when they exist; fix what you broke.
5. Paths are relative to the workspace root; never try to leave it.
Finish with a short summary: what you changed (files), what you ran, and anything left to do.
"""


def build_agent(model: Model, toolsets: Sequence[AbstractToolset[TaskDeps]] = ()) -> Agent[TaskDeps, str]:
    """The agent; `toolsets`: the task's MCP tools (`mcp_tools.McpTools`), when it has servers."""
    return Agent(
        model,
        deps_type=TaskDeps,
        output_type=str,
        instructions=SYSTEM_PROMPT,
        tools=TOOLS,
        toolsets=list(toolsets) or None,
        retries=3,
        name="dals",
    )
