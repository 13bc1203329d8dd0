"""Retention: forgetting a finished task's durable state.

`AgentTask/{id}/forget` (exclusive) clears the task object's state (summary, events) only when the
task has finished, then has the task's side objects (`TaskLedger`, `TaskNotes`, `TaskFeed`, `TaskInbox`, keyed
by the same id) clear theirs. Being exclusive, it runs only while no `run` of the task is in
flight: a run that waits, backs off or is paused holds the object, so the caller must ask only for
tasks it saw finished (see `dals.client.retention`); the status check here is the last guard.

The task's invocations (its journal) are purged through the admin API by the caller, not here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict

from pydantic import BaseModel
from restate import ObjectContext

from .task_feed import task_feed
from .task_inbox import task_inbox
from .task_notes import task_notes
from .task_object import agent_task, task_ledger
from .task_record import SUMMARY
from .task_status import TERMINAL


class _Retention(TypedDict):
    journal_retention: timedelta
    idempotency_retention: timedelta


# Leave no invocation record behind: retention exists to remove them.
_GONE = _Retention(journal_retention=timedelta(0), idempotency_retention=timedelta(0))


class ForgetRequest(BaseModel):
    runEnded: bool = False
    """The caller saw the task's `run` invocation completed. A run killed through the admin API
    ends without writing a final status; with this set, its summary counts as finished."""
    before: str | None = None
    """ISO 8601 cutoff: forget only if the task was last updated at or before it. A request that
    had to wait behind a run (it holds the object) then finds the task newer and leaves it."""


def _time(value: Any) -> datetime | None:
    try:
        t = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def may_forget(summary: dict[str, Any] | None, req: ForgetRequest) -> bool:
    """Whether a task with this durable summary may be forgotten: it has one, it finished, and
    (with `req.before`) it was last updated by then."""
    if not summary or not (summary.get("status") in TERMINAL or req.runEnded):
        return False
    if req.before is None:
        return True
    updated, cutoff = _time(summary.get("updatedAt")), _time(req.before)
    return updated is not None and cutoff is not None and updated <= cutoff


@agent_task.handler(name="forget", **_GONE)
async def forget_task(ctx: ObjectContext, req: ForgetRequest) -> dict[str, Any]:
    """Clear the finished task's state and its side objects'; `{forgotten, status}`."""
    summary: dict[str, Any] | None = await ctx.get(SUMMARY)
    status = summary.get("status") if summary else None
    if not may_forget(summary, req):
        return {"forgotten": False, "status": status}
    ctx.clear_all()
    for side in (forget_ledger, forget_notes, forget_feed, forget_inbox):
        ctx.object_send(side, key=ctx.key(), arg=None)
    return {"forgotten": True, "status": status}


@task_ledger.handler(name="forget", **_GONE)
async def forget_ledger(ctx: ObjectContext) -> None:
    ctx.clear_all()


@task_notes.handler(name="forget", **_GONE)
async def forget_notes(ctx: ObjectContext) -> None:
    ctx.clear_all()


@task_inbox.handler(name="forget", **_GONE)
async def forget_inbox(ctx: ObjectContext) -> None:
    ctx.clear_all()


@task_feed.handler(name="forget", **_GONE)
async def forget_feed(ctx: ObjectContext) -> None:
    """Wake any client still long-polling the task (it then finds the task gone), then clear."""
    version: int = await ctx.get("version") or 0
    waiters: list[str] = await ctx.get("waiters") or []
    for waiter in waiters:
        ctx.resolve_awakeable(waiter, version + 1)
    ctx.clear_all()
