"""Routing file reads and edits through the user's editor when the file is open there.

A file open in an attached editor is read from its buffer (what the user sees, unsaved changes
included) and edited with a versioned `workspace/applyEdit` (the user's undo works). The editor
checks the buffer against the hash the task last saw, so a stale edit becomes a conflict, never an
overwrite. No editor, file not open, or no answer → the caller uses the disk as usual.
"""

from __future__ import annotations

import difflib
from typing import Any

from ..workspace.errors import WorkspaceError
from ..workspace.line_endings import adapt
from ..workspace.text_bytes import content_hash
from ..workspace.text_edits import apply_edits, edits_of, parse_edits
from .deps import TaskDeps, now_iso


async def read(d: TaskDeps, key: str) -> dict[str, Any] | None:
    session = await d.runner.editor_for(key)
    if not session:
        return None
    answer = await d.runner.editor({"op": "read", "sessionId": session, "path": key})
    if not answer or not answer.get("ok"):
        return None
    return answer


async def propose(d: TaskDeps, key: str, tool: str, payload: dict[str, Any]) -> dict[str, Any] | None:
    """File open in the editor: the change (for review, or to know its result hash before making it)
    computed against the buffer (from the journaled read, so replays compute the same), or None
    when the file is not open."""
    buf = await read(d, key)
    if not buf:
        return None
    text, sha = buf["text"], buf["sha"]
    at = buf.get("at") or now_iso()
    expected = d.seen.get(key, sha if tool == "write_file" else None)
    if expected != sha:
        return {"ok": False, "at": at, "error": f"'{key}' changed since read (open in the editor); read it again"}
    if tool == "write_file":
        new_text = adapt(text, payload["content"])  # the buffer's line breaks, as on disk
    else:
        try:
            new_text = apply_edits(text, parse_edits(edits_of(payload)), key)
        except WorkspaceError as e:
            return {"ok": False, "at": at, "error": str(e)}
    diff = "".join(difflib.unified_diff(text.splitlines(True), new_text.splitlines(True), f"a/{key}", f"b/{key}"))
    return {
        "ok": True,
        "at": at,
        "path": key,
        "diff": diff,
        "proposed": new_text,
        "already_applied": new_text == text,
        "base": expected,
        "sha": content_hash(new_text.encode("utf-8")),
        "via": "editor",
    }


async def edit(
    d: TaskDeps, key: str, tool: str, payload: dict[str, Any], review: bool, expected: str | None = None
) -> dict[str, Any] | None:
    """The editor's outcome `{applied, sha?, reason?, diff?, at}`, or None to use the disk."""
    session = await d.runner.editor_for(key)
    if not session:
        return None
    answer = await d.runner.editor(
        {
            "op": "edit",
            "sessionId": session,
            "path": key,
            "tool": tool,
            "expected": expected or d.seen.get(key),
            "review": review,
            **payload,
        }
    )
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
    # the content before, kept by the editor's server (a checkpoint for undo)
    before = {"before": answer["before"]} if isinstance(answer.get("before"), str) else {}
    d.runner.event(
        "edit",
        f"{tool} {key}",
        {"path": key, "sha": answer["sha"], "via": "editor", "diff": (answer.get("diff") or "")[:4000]} | before,
        at,
    )
    return f"edited {key} in the user's editor (unsaved there; the user saves it)"
