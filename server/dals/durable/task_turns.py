"""Follow-ups: `AgentTask/{id}/follow_up`, a new turn of a finished task on its kept conversation.

Each turn is its own invocation of the task object (exclusive, so it runs after the turn before
it, never beside it), with the spec the task was started with and the conversation the earlier
turns left in state (see conversation.py): same task id, its events' `seq` goes on, its usage
adds up, `turns` counts.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from restate import ObjectContext, TerminalError

from . import eager_steps
from .input_check import Refused, check
from .task_object import _iso, _run, agent_task
from .task_record import SPEC, SUMMARY, TaskRecord
from .task_spec import FollowUp, TaskSpec
from .task_status import TERMINAL


@agent_task.handler(name="follow_up")
async def follow_up(ctx: ObjectContext, request: dict[str, Any]) -> dict[str, Any]:
    """`request`: a FollowUp signed by the user's client (dals.trust) for this task and the turn
    that comes next; anything else runs nothing and is recorded."""
    summary: dict[str, Any] | None = await ctx.get(SUMMARY)
    spec: dict[str, Any] | None = await ctx.get(SPEC)
    try:
        turn = FollowUp.model_validate(check(request, "followUp", ctx.key()))
        if summary and turn.turn != summary.get("turns", 0) + 1:
            raise Refused(f"signed for turn {turn.turn}, not the next one ({summary.get('turns', 0) + 1}; replayed?)")
    except (Refused, ValidationError) as e:
        if summary:
            TaskRecord.resume(ctx, summary).refused("a follow-up", str(e).splitlines()[0][:300], _iso(await ctx.time()))
        return {"refused": str(e).splitlines()[0][:300]}
    if not summary or not spec:
        raise TerminalError(
            "this task has no conversation to follow up (unknown, or started before DALS kept "
            "conversations): start a new task",
            status_code=404,
        )
    if summary["status"] not in TERMINAL:  # its last turn was stopped without ending (killed): end it now
        summary["status"] = "failed"
    steps = eager_steps.install(ctx)
    try:
        return await _run(ctx, TaskSpec.model_validate(spec), steps, turn, summary)
    finally:
        if steps:
            steps.cancel()
