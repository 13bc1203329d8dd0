"""Push-like event delivery without polling: a long-poll per task.

`AgentTask.run` sends `publish(seq)` here after writing events; a client calls `pull(since)`,
which answers at once if the task is past `since`, else parks on an awakeable that the next
`publish` resolves (or a timeout). Kept apart from `AgentTask` so that waiting clients never
queue behind the task's running exclusive handler. Registration and publication are both
exclusive here, so an event between "nothing new" and "parked" cannot be missed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import restate
from restate import ObjectContext, ObjectSharedContext

PULL_WAIT = timedelta(seconds=20)

task_feed = restate.VirtualObject("TaskFeed", description="Long-poll wake-ups for task events.")


# No retention for any handler here: nothing attaches to these invocations or dedupes them, and the
# task sends a `publish` per event; kept 1 day (the default), they piled up in `sys_invocation`
# (thousands per hour of work), slowing the admin queries behind `dals.listTasks` and using disk.
@task_feed.handler(journal_retention=timedelta(0), idempotency_retention=timedelta(0))
async def publish(ctx: ObjectContext, seq: int) -> None:
    """Something changed in the task (an event `seq`, or its summary): bump the version, wake all."""
    version: int = await ctx.get("version") or 0
    version += 1
    ctx.set("version", version)
    waiters: list[str] = await ctx.get("waiters") or []
    for waiter in waiters:
        ctx.resolve_awakeable(waiter, version)
    ctx.clear("waiters")


@task_feed.handler(journal_retention=timedelta(0), idempotency_retention=timedelta(0))
async def park(ctx: ObjectContext, req: dict[str, Any]) -> None:
    version: int = await ctx.get("version") or 0
    if version > req["since"]:
        ctx.resolve_awakeable(req["waiter"], version)
        return
    waiters: list[str] = await ctx.get("waiters") or []
    ctx.set("waiters", waiters[-200:] + [req["waiter"]])


@task_feed.handler(kind="shared", journal_retention=timedelta(0), idempotency_retention=timedelta(0))
async def pull(ctx: ObjectSharedContext, since: int) -> int:
    """The feed's version once it is past `since` (or `since` after a timeout). Start with 0."""
    waiter, woken = ctx.awakeable(type_hint=int)
    ctx.object_send(park, key=ctx.key(), arg={"since": since, "waiter": waiter})
    match await restate.select(woken=woken, timeout=ctx.sleep(PULL_WAIT)):
        case ["woken", seq]:
            return seq
        case _:
            return since
