"""The `delete_file` tool: a hash-guarded delete whose content is kept first (a checkpoint), so
undo and rewind can bring the file back (Guarantee 8)."""

from __future__ import annotations

from typing import Any

from pydantic_ai import RunContext

from ..workspace import checkpoints, files
from ..workspace.errors import WorkspaceError
from .deps import TaskDeps
from .policy import edit_needs_approval
from .tool_steps import blob_store, fail, guarded, key_of


async def delete_file(ctx: RunContext[TaskDeps], path: str) -> str:
    """Delete a workspace file. Refused if it changed since you read it. Undo brings it back.
    E.g. delete_file(path="old_module.py")

    Args:
        path: workspace-relative path of the file.
    """
    d = ctx.deps
    key = key_of(path)

    async def look() -> dict[str, Any]:
        sha = files.file_hash(d.root, path)
        if sha is None:
            raise WorkspaceError(f"{path} does not exist")
        return {"sha": sha}

    if key not in d.seen:
        seen = await d.runner.step("hash_file", lambda: guarded(look))
        if not seen["ok"]:
            return fail(d, "edit", f"delete_file {path}", seen)
        d.seen[key] = seen["sha"]
    expected = d.seen[key]
    if edit_needs_approval(d.mode):
        answer = await d.runner.ask(
            {"action": "edit", "tool": "delete_file", "path": key, "question": f"Delete {key}?"}
        )
        if answer.get("decision") != "approve":
            return "rejected by the user; nothing was changed"

    async def act() -> dict[str, Any]:
        before = checkpoints.capture(d.root, path, expected, blob_store())
        files.delete_file(d.root, path, expected)
        return {"path": key, "before": before}

    out = await d.runner.step("delete_file", lambda: guarded(act))
    if not out["ok"]:
        return fail(d, "edit", f"delete_file {path}", out)
    d.seen.pop(key, None)
    d.runner.event(
        "edit", f"delete_file {key}", {"path": key, "sha": None, "deleted": True, "before": out["before"]}, out["at"]
    )
    d.edited = True
    return f"deleted {key}"
