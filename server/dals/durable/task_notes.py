"""Changes to a task's files made outside the task (the user, another tool), reported by
`dals lsp`'s file watcher. Kept beside the task (its `run` handler is exclusive and busy), read by
the task before each write in a journaled call, or (`TaskSpec.notesRead = "step"`) in a journaled
step that asks the ingress (`read_since`), so what it learned is part of its journal."""

from __future__ import annotations

from typing import Any

import restate
from restate import ObjectContext, ObjectSharedContext

from . import worker_ingress

MAX_NOTES = 1000

task_notes = restate.VirtualObject("TaskNotes", description="Outside changes to files a task has read.")


@task_notes.handler()
async def add(ctx: ObjectContext, note: dict[str, Any]) -> int:
    notes: list[dict[str, Any]] = await ctx.get("notes") or []
    notes = (notes + [{k: note.get(k) for k in ("path", "sha", "change", "at")}])[-MAX_NOTES:]
    ctx.set("notes", notes)
    return len(notes)


@task_notes.handler(kind="shared")
async def since(ctx: ObjectSharedContext, cursor: int) -> dict[str, Any]:
    notes: list[dict[str, Any]] = await ctx.get("notes") or []
    return {"notes": notes[cursor:], "cursor": len(notes)}


async def read_since(task_id: str, cursor: int) -> dict[str, Any]:
    """`since` through the ingress (from inside a journaled step: no child invocation)."""
    return await worker_ingress.call("TaskNotes", task_id, "since", cursor)
