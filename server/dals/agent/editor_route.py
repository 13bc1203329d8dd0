"""Routing file reads and edits through the user's editor when the file is open there.

A file open in an attached editor is read from its buffer (what the user sees, unsaved changes
included) and edited with a versioned `workspace/applyEdit` (the user's undo works). The editor
checks the buffer against the hash the task last saw, so a stale edit becomes a conflict, never an
overwrite. No editor, file not open, or no answer → the caller uses the disk as usual.
"""
from __future__ import annotations

from typing import Any

from .deps import TaskDeps, now_iso


async def read(d: TaskDeps, key: str) -> dict[str, Any] | None:
    session = await d.runner.editor_for(key)
    if not session:
        return None
    answer = await d.runner.editor({"op": "read", "sessionId": session, "path": key})
    if not answer or not answer.get("ok"):
        return None
    return answer


async def edit(d: TaskDeps, key: str, tool: str, payload: dict[str, Any], review: bool) -> dict[str, Any] | None:
    """The editor's outcome `{applied, sha?, reason?, diff?, at}`, or None to use the disk."""
    session = await d.runner.editor_for(key)
    if not session:
        return None
    answer = await d.runner.editor({"op": "edit", "sessionId": session, "path": key, "tool": tool,
                                    "expected": d.seen.get(key), "review": review, **payload})
    if not answer or answer.get("reason") == "closed":
        return None
    return answer


def outcome(d: TaskDeps, tool: str, key: str, answer: dict[str, Any]) -> str:
    """Record the editor's answer as the task's view and event; the text the model gets."""
    at = answer.get("at") or now_iso()
    if not answer.get("applied"):
        reason = answer.get("reason") or "the editor declined the edit"
        d.runner.event("edit", f"{tool} {key} failed", {"path": key, "error": reason, "via": "editor"}, at)
        return f"error: {reason}"
    d.seen[key] = answer["sha"]
    d.runner.event("edit", f"{tool} {key}", {"path": key, "sha": answer["sha"], "via": "editor",
                                             "diff": (answer.get("diff") or "")[:4000]}, at)
    return f"edited {key} in the user's editor (unsaved there; the user saves it)"
