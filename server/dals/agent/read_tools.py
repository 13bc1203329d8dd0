"""The agent's read-only tools: `list_files`, `read_file` (whole or a range) and `search`.

Each runs its work as one journaled step (`deps.runner.step`) and reports one event; a file open in
the user's editor is read from its buffer. What a read saw is kept (`deps.seen`) to guard edits.
"""

from __future__ import annotations

import asyncio

from pydantic_ai import RunContext

from ..workspace import files
from ..workspace.errors import WorkspaceError
from . import editor_route
from .deps import TaskDeps, now_iso
from .tool_steps import fail, guarded, key_of, short


async def list_files(ctx: RunContext[TaskDeps], glob: str = "**/*") -> str:
    """List workspace files (relative paths) matching a glob; .gitignore is respected.

    At most 2000 paths, sorted; a longer list says so. E.g. list_files(glob="src/**/*.ts")

    Args:
        glob: relative to the workspace root; `**` spans directories ("*.md": the root's only).
    """
    d = ctx.deps

    async def act():
        paths, truncated = files.list_files(d.root, glob)
        return {"paths": paths, "truncated": truncated}

    out = await d.runner.step("list_files", lambda: guarded(act))
    if not out["ok"]:
        return fail(d, "tool", f"list_files {glob}", out)
    d.runner.event("tool", f"list_files {glob}", {"count": len(out["paths"]), "truncated": out["truncated"]}, out["at"])
    text = "\n".join(out["paths"]) or "(no files)"
    return text + ("\n[truncated: narrow the glob]" if out["truncated"] else "")


async def read_file(ctx: RunContext[TaskDeps], path: str, offset: int | None = None, limit: int | None = None) -> str:
    """Read a text file of the workspace: the whole file, or a numbered range of its lines.

    A whole read is limited to 1 MB; read bigger files (any size) in ranges. A range answers
    `     N<TAB>text` lines and a footer with the file's line count and the next `offset`.
    E.g. read_file(path="logs/build.log", offset=12000, limit=200)

    Args:
        path: workspace-relative path, e.g. "src/app.py".
        offset: first line to read, from 1. Giving offset or limit asks for a range.
        limit: how many lines to read (default 2000 when a range is asked for).
    """
    d = ctx.deps
    key = key_of(path)
    ranged = offset is not None or limit is not None
    via = await editor_route.read(d, key)
    if via:
        text = via["text"]
        if ranged:
            try:
                text = files.lines_of(key, [via["text"].encode("utf-8")], *files.check_range(offset, limit)).text
            except WorkspaceError as e:
                return fail(d, "tool", f"read_file {key}", {"error": str(e), "at": via.get("at") or now_iso()})
        d.seen[key] = via["sha"]
        d.runner.event(
            "tool",
            f"read_file {key}{_span(offset, limit)} (editor buffer)",
            {"path": key, "sha": via["sha"], "chars": len(text), "via": "editor"},
            via.get("at") or now_iso(),
        )
        return text

    async def act():
        if ranged:
            r = files.read_range(d.root, path, offset, limit)
            return {"path": r.path, "text": r.text, "sha": r.sha, "lines": r.total_lines}
        whole = files.read_file(d.root, path)
        return {"path": whole.path, "text": whole.text, "sha": whole.sha}

    out = await d.runner.step("read_file", lambda: guarded(act))
    if not out["ok"]:
        return fail(d, "tool", f"read_file {path}{_span(offset, limit)}", out)
    d.seen[key] = out["sha"]
    detail = {"path": out["path"], "sha": out["sha"], "chars": len(out["text"])}
    if "lines" in out:
        detail["lines"] = out["lines"]
    d.runner.event("tool", f"read_file {out['path']}{_span(offset, limit)}", detail, out["at"])
    return out["text"]


def _span(offset: int | None, limit: int | None) -> str:
    if offset is None and limit is None:
        return ""
    return f" (lines {offset or 1}+{limit or files.DEFAULT_LIMIT})"


async def search(ctx: RunContext[TaskDeps], pattern: str, glob: str | None = None) -> str:
    """Search the workspace's files for a regular expression (ripgrep syntax); .gitignore respected.

    Answers `path:line: text` lines sorted by path, at most 200; it says how many more matches
    there are and in which files, and names binary files that match and files it could not read.
    Files of any size are searched.
    E.g. search(pattern="class \\w+Error", glob="**/*.py")

    Args:
        pattern: a regular expression, e.g. "def parse_\\w+" or "TODO|FIXME"; (?i) ignores case.
        glob: only files whose workspace-relative path matches, e.g. "src/**/*.py" or "*.md".
    """
    d = ctx.deps

    async def act():
        r = await asyncio.to_thread(files.search, d.root, pattern, glob)
        return {
            "text": r.to_model_text(),
            "matches": len(r.matches) + sum(r.more.values()),
            "binary": len(r.binary),
            "unsearched": len(r.unsearched),
        }

    out = await d.runner.step("search", lambda: guarded(act))
    if not out["ok"]:
        return fail(d, "tool", f"search {short(pattern, 80)}", out)
    d.runner.event(
        "tool",
        f"search {short(pattern, 80)}",
        {"matches": out["matches"], "binary": out["binary"], "unsearched": out["unsearched"]},
        out["at"],
    )
    return out["text"]
