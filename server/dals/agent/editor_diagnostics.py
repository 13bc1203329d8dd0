"""The `diagnostics` tool: what the user's editor shows as problems, from its own language servers.

Asked of the attached editor through the task's editor requests (an awakeable the editor answers,
so the answer is journaled like any tool result). A task with no live editor (`dals run`, or an
editor closed since) is told so, with what to do instead. After the task changed a file, the
request asks the editor to wait `SETTLE_MS` first, so that its language servers have re-checked.
"""

from __future__ import annotations

import posixpath
from typing import Any

from pydantic_ai import RunContext

from .deps import TaskDeps, now_iso

SETTLE_MS = 1500
MAX_LINES = 200
NO_EDITOR = (
    "no editor attached: diagnostics come from the user's editor, and this task has none "
    "(started with `dals run`, or the editor was closed); run the project's own checker with "
    "run_command instead (e.g. `ruff check .`, `npx tsc --noEmit`, `cargo check`)"
)


async def diagnostics(ctx: RunContext[TaskDeps], path: str | None = None) -> str:
    """The errors and warnings the user's editor shows (its language servers, linters, type checkers).

    Call it after editing to see whether the change broke something. It waits briefly after an
    edit so the language servers re-check. Answers `path:line:column: severity [source code] message`.
    E.g. diagnostics(path="src/app.ts")

    Args:
        path: a workspace-relative file, e.g. "src/app.ts"; omit it for every file the editor reports on.
    """
    d = ctx.deps
    key = posixpath.normpath(path.strip()) if path and path.strip() else None
    what = f"diagnostics {key or '(all files)'}"
    session = (await d.runner.editor_for(key) if key else None) or await d.runner.editor_for(None)
    if not session:
        d.runner.event("tool", what, {"path": key, "editor": False}, await _journaled_now(d))
        return NO_EDITOR
    answer = await d.runner.editor(
        {"op": "diagnostics", "sessionId": session, "path": key, "settleMs": SETTLE_MS if d.edited else 0}
    )
    d.edited = False
    if not answer:
        d.runner.event("tool", f"{what} failed", {"error": "no answer from the editor"}, await _journaled_now(d))
        return (
            "error: the editor did not answer (it may have been closed); run the project's own checker "
            "with run_command instead"
        )
    at = answer.get("at") or await _journaled_now(d)
    if not answer.get("ok"):
        reason = answer.get("reason") or "the editor gave no diagnostics"
        d.runner.event("tool", f"{what} failed", {"error": reason}, at)
        return f"error: {reason}"
    text, count = render(answer.get("files") or [], key)
    d.runner.event(
        "tool",
        what,
        {"path": key, "count": count, "files": len(answer.get("files") or []), "via": "editor", "text": text[:2000]},
        at,
    )
    return text


async def _journaled_now(d: TaskDeps) -> str:
    """The time for an event with no journaled answer to take it from: a step, so that a replay
    writes the same event."""

    async def now():
        return {"at": now_iso()}

    return (await d.runner.step("diagnostics", now))["at"]


def render(files: list[dict[str, Any]], key: str | None) -> tuple[str, int]:
    """The model's text for the editor's diagnostics, and how many there were."""
    lines = []
    for f in files:
        for g in f.get("diagnostics") or []:
            tag = " ".join(x for x in (g.get("source"), g.get("code")) if x)
            lines.append(
                f"{f['path']}:{g['line']}:{g['column']}: {g['severity']}"
                + (f" [{tag}]" if tag else "")
                + f" {g['message']}"
            )
    count = len(lines)
    if not lines:
        where = key or "any file"
        return f"(no diagnostics for {where} in the editor)", 0
    out = lines[:MAX_LINES]
    if count > MAX_LINES:
        shown_files = sorted({f["path"] for f in files})
        out.append(
            f"[{count - MAX_LINES} more diagnostics not shown (of {count} in {len(shown_files)} files); "
            "ask diagnostics(path=...) for one file]"
        )
    return "\n".join(out), count
