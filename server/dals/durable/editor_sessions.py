"""Which editors are attached, and which files they have open, per workspace.

`dals lsp` keeps its entry fresh (open files, a heartbeat every few seconds). A task asks, with a
journaled call, whether the file it is about to read or edit is open in a live editor; if so, the
read or edit goes through that editor (its buffer, its undo) instead of the disk. (Tasks whose
worker runs on the editor's machine read the same from the state dir instead: see
`dals.local.editor_presence`.)
"""

from __future__ import annotations

import time
from typing import Any

import restate
from restate import ObjectContext, ObjectSharedContext

from ..local.editor_presence import freshest

editor_sessions = restate.VirtualObject("EditorSessions", description="Attached editors and their open files.")


@editor_sessions.handler()
async def update(ctx: ObjectContext, session: dict[str, Any]) -> None:
    sessions: dict[str, dict[str, Any]] = await ctx.get("sessions") or {}
    sessions[session["sessionId"]] = {"open": list(session.get("open") or []), "seenAt": session["seenAt"]}
    ctx.set("sessions", sessions)


@editor_sessions.handler()
async def remove(ctx: ObjectContext, session_id: str) -> None:
    sessions: dict[str, dict[str, Any]] = await ctx.get("sessions") or {}
    sessions.pop(session_id, None)
    ctx.set("sessions", sessions)


@editor_sessions.handler(kind="shared")
async def lookup(ctx: ObjectSharedContext, path: str | None) -> str | None:
    """The freshest live session that has `path` open (any live one when `path` is None), or None.
    (Wall-clock time is fine here: the caller journals the answer.)"""
    return freshest(await ctx.get("sessions") or {}, path, time.time())
