"""Prompt conventions shared by the offline model and its test doubles.

Owns two pure readings of a task prompt, with no pydantic-ai dependency:

- the *plan*: lines of the form ``/TOOL {json-object}`` (or a bare ``/TOOL``),
  where TOOL is one of the agent tools of the contract or an MCP tool
  (``mcp__<server>__<tool>``); each line is one step;
- the *file context*: the ``File: <path>`` line the durable layer adds to a
  prompt started on a file (optionally followed by ``(lines A-B)``).

Every other line is ignored, since prompts also carry context and prose.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

TOOL_NAMES = (
    "list_files",
    "read_file",
    "search",
    "write_file",
    "edit_file",
    "multi_edit",
    "delete_file",
    "diagnostics",
    "run_command",
)

_PLAN_LINE = re.compile(r"^/(?P<tool>mcp__[A-Za-z0-9-]+__[A-Za-z0-9_.-]+|[A-Za-z_]+)(?:\s*(?P<args>.*?))?\s*$")
_FILE_LINE = re.compile(r"^File:\s*(?P<path>.+?)(?:\s+\(lines?\s+\d+(?:\s*-\s*\d+)?\))?\s*$")
CONTEXT_PREFIXES = ("File:", "Language:", "Selection:")


@dataclass(frozen=True)
class PlanStep:
    """One planned tool call: the tool's name and its keyword arguments."""

    tool: str
    args: dict[str, Any]


def parse_plan(prompt: str) -> list[PlanStep]:
    """Return the plan steps of ``prompt`` in order; ``[]`` when it has none.

    Raises ``ValueError`` naming the (1-based) line when a line starting with
    ``/`` and a known tool name carries arguments that are not a JSON object.
    """
    steps: list[PlanStep] = []
    for number, raw in enumerate(prompt.splitlines(), start=1):
        match = _PLAN_LINE.match(raw.lstrip())
        if match is None or not (match["tool"] in TOOL_NAMES or match["tool"].startswith("mcp__")):
            continue
        text = match["args"]
        if not text:
            steps.append(PlanStep(match["tool"], {}))
            continue
        try:
            args = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"plan line {number}: invalid JSON arguments for /{match['tool']}: {err}") from err
        if not isinstance(args, dict):
            raise ValueError(
                f"plan line {number}: arguments for /{match['tool']} must be a JSON object, got {type(args).__name__}"
            )
        steps.append(PlanStep(match["tool"], args))
    return steps


def file_context(prompt: str) -> str | None:
    """Return the workspace-relative path of the first ``File: <path>`` line, if any."""
    for raw in prompt.splitlines():
        match = _FILE_LINE.match(raw.strip())
        if match is not None:
            return match["path"]
    return None


def request_text(prompt: str) -> str:
    """Return the user's request: the first non-empty line that is neither context nor plan."""
    for raw in prompt.splitlines():
        line = raw.strip()
        if not line or line.startswith(CONTEXT_PREFIXES) or line == "---":
            continue
        return line
    return ""


def plan_summary(plan: list[PlanStep]) -> str:
    """Return the final text for a finished plan, e.g. ``Plan done: 2 steps (read_file ×2).``"""
    counts: dict[str, int] = {}
    for step in plan:
        counts[step.tool] = counts.get(step.tool, 0) + 1
    detail = ", ".join(f"{tool} ×{n}" for tool, n in counts.items())
    noun = "step" if len(plan) == 1 else "steps"
    return f"Plan done: {len(plan)} {noun} ({detail})."
