"""Follow-ups: `AgentTask/{id}/follow_up`, a new turn of a finished task on its kept conversation.

Each turn is its own invocation of the task object (exclusive, so it runs after the turn before
it, never beside it), with the spec the task was started with and the conversation the earlier
turns left in state (see conversation.py): same task id, its events' `seq` goes on, its usage
adds up, `turns` counts.
"""
from __future__ import annotations

from typing import Any

from restate import ObjectContext, TerminalError

from . import eager_steps
from .task_object import _run, agent_task
from .task_record import SPEC, SUMMARY, TERMINAL
from .task_spec import FollowUp, TaskSpec


@agent_task.handler(name="follow_up")
async def follow_up(ctx: ObjectContext, turn: FollowUp) -> dict[str, Any]:
    summary = await ctx.get(SUMMARY)
    spec = await ctx.get(SPEC)
    if not summary or not spec:
        raise TerminalError("this task has no conversation to follow up (unknown, or started before DALS kept "
                            "conversations): start a new task", status_code=404)
    if summary["status"] not in TERMINAL:  # its last turn was stopped without ending (killed): end it now
        summary["status"] = "failed"
    steps = eager_steps.install(ctx)
    try:
        return await _run(ctx, TaskSpec.model_validate(spec), steps, turn, summary)
    finally:
        if steps:
            steps.cancel()
