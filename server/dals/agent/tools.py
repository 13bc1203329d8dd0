"""The six agent tools of the contract, as plain pydantic-ai function tools.

Every side effect runs inside `deps.runner.step(...)` and returns plain data (so a journal can hold
it); workspace errors become values the model reads ("error: …"), never exceptions that would
make a durable runtime retry. What the task has read is tracked by content hash in `deps.seen`,
rebuilt from step results on replay, and guards every write (Guarantee 3).
"""
from __future__ import annotations

import posixpath
from dataclasses import asdict
from typing import Any

from pydantic_ai import RunContext, Tool

from ..workspace import files, shell
from ..workspace.errors import WorkspaceError
from . import editor_route
from .deps import TaskDeps, now_iso
from .policy import command_allowed, edit_needs_approval

PREVIEW = 300


def _key(path: str) -> str:
    return posixpath.normpath(path.strip() or ".")


def _short(text: str, n: int = PREVIEW) -> str:
    return text if len(text) <= n else text[:n] + f"… [{len(text) - n} more chars]"


async def _guarded(fn) -> dict[str, Any]:
    try:
        out = await fn()
        out.setdefault("ok", True)
    except WorkspaceError as e:
        out = {"ok": False, "error": str(e)}
    except OSError as e:  # disk full, permissions, read-only workspace: the model should know
        out = {"ok": False, "error": f"{type(e).__name__}: {e.strerror or e}"}
    out["at"] = now_iso()
    return out


def _fail(deps: TaskDeps, kind: str, title: str, out: dict[str, Any]) -> str:
    deps.runner.event(kind, f"{title} failed", {"error": out["error"]}, out["at"])
    return f"error: {out['error']}"


async def list_files(ctx: RunContext[TaskDeps], glob: str = "**/*") -> str:
    """List workspace files (relative paths) matching a glob; .gitignore is respected."""
    d = ctx.deps

    async def act():
        paths, truncated = files.list_files(d.root, glob)
        return {"paths": paths, "truncated": truncated}

    out = await d.runner.step("list_files", lambda: _guarded(act))
    if not out["ok"]:
        return _fail(d, "tool", f"list_files {glob}", out)
    d.runner.event("tool", f"list_files {glob}", {"count": len(out["paths"]), "truncated": out["truncated"]}, out["at"])
    text = "\n".join(out["paths"]) or "(no files)"
    return text + ("\n[truncated: narrow the glob]" if out["truncated"] else "")


async def read_file(ctx: RunContext[TaskDeps], path: str) -> str:
    """Read a text file of the workspace."""
    d = ctx.deps
    via = await editor_route.read(d, _key(path))
    if via:
        d.seen[_key(path)] = via["sha"]
        d.runner.event("tool", f"read_file {_key(path)} (editor buffer)", {"path": _key(path), "sha": via["sha"],
                       "chars": len(via["text"]), "via": "editor"}, via.get("at") or now_iso())
        return via["text"]

    async def act():
        r = files.read_file(d.root, path)
        return {"path": r.path, "text": r.text, "sha": r.sha}

    out = await d.runner.step("read_file", lambda: _guarded(act))
    if not out["ok"]:
        return _fail(d, "tool", f"read_file {path}", out)
    d.seen[_key(path)] = out["sha"]
    d.runner.event("tool", f"read_file {out['path']}", {"path": out["path"], "sha": out["sha"],
                                                        "chars": len(out["text"])}, out["at"])
    return out["text"]


async def search(ctx: RunContext[TaskDeps], pattern: str, glob: str | None = None) -> str:
    """Search workspace files with a regular expression; answers `path:line: text` lines."""
    d = ctx.deps

    async def act():
        matches, truncated = files.search(d.root, pattern, glob)
        return {"matches": matches, "truncated": truncated}

    out = await d.runner.step("search", lambda: _guarded(act))
    if not out["ok"]:
        return _fail(d, "tool", f"search {pattern}", out)
    d.runner.event("tool", f"search {_short(pattern, 80)}", {"matches": len(out["matches"])}, out["at"])
    text = "\n".join(out["matches"]) or "(no matches)"
    return text + ("\n[truncated: narrow the pattern or glob]" if out["truncated"] else "")


STALE = "stale:"


async def _absorb_changes(d: TaskDeps) -> None:
    """Files changed outside the task since it read them: say so, and forget what was read, so a
    stale edit is refused ("changed since read") instead of overwriting someone's work."""
    for note in await d.runner.changes():
        key = _key(note.get("path") or "")
        known = d.seen.get(key)
        own = getattr(d.seen, "history", {}).get(key, ())
        if known is None or known.startswith(STALE) or note.get("sha") == known or note.get("sha") in own:
            continue  # not read by this task, already stale, or one of the task's own writes
        d.seen[key] = STALE + known
        how = "deleted" if note.get("change") == "deleted" else "changed"
        d.runner.event("log", f"{key} {how} outside the task; it must be read again",
                       {"path": key, "change": how, "sha": note.get("sha")}, note.get("at") or now_iso())


async def _refused(d: TaskDeps, request: dict[str, Any]) -> str | None:
    """Ask the user; None when approved, else what the model is told."""
    answer = await d.runner.ask(request)
    if answer.get("decision") == "approve":
        return None
    comment = (answer.get("comment") or "").strip()
    return "rejected by the user" + (f": {comment}" if comment else "") + "; nothing was changed"


async def _review(d: TaskDeps, tool: str, path: str, plan,
                  payload: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """Review mode: propose the change (against the editor's buffer when the file is open there,
    else a journaled dry run on disk), then wait for the user's answer.
    Returns (proposal, None) to go on, or (None, text for the model)."""
    proposal = await editor_route.propose(d, _key(path), tool, payload)
    if proposal is None:
        proposal = await d.runner.step(f"propose {tool}", lambda: _guarded(plan))
    if not proposal["ok"]:
        return None, _fail(d, "edit", f"{tool} {path}", proposal)
    if not proposal["already_applied"]:
        refusal = await _refused(d, {"action": "edit", "tool": tool, "path": proposal["path"],
                                     "diff": proposal["diff"], "question": f"Apply this change to {proposal['path']}?"})
        if refusal:
            return None, refusal
    return proposal, None


async def write_file(ctx: RunContext[TaskDeps], path: str, content: str) -> str:
    """Create or replace a workspace file with `content`. Refused if it changed since you read it."""
    d = ctx.deps
    key = _key(path)
    await _absorb_changes(d)
    base: dict[str, Any] = {}
    if edit_needs_approval(d.mode):
        async def plan():
            expected = d.seen[key] if key in d.seen else files.file_hash(d.root, path)
            return asdict(files.write_file(d.root, path, content, expected, dry_run=True)) | {"base": expected}

        proposal, refusal = await _review(d, "write_file", path, plan, {"content": content})
        if refusal:
            return refusal
        base["sha"] = proposal["base"]
    answer = await editor_route.edit(d, key, "write_file", {"content": content}, edit_needs_approval(d.mode),
                                     expected=base.get("sha"))
    if answer is not None:
        return editor_route.outcome(d, "write_file", key, answer)

    async def act():
        if "sha" in base:
            expected = base["sha"]
        else:
            expected = d.seen[key] if key in d.seen else files.file_hash(d.root, path)
        r = files.write_file(d.root, path, content, expected)
        return asdict(r)

    out = await d.runner.step("write_file", lambda: _guarded(act))
    if not out["ok"]:
        return _fail(d, "edit", f"write_file {path}", out)
    d.seen[key] = out["sha"]
    d.runner.event("edit", f"write_file {out['path']}", {"path": out["path"], "sha": out["sha"],
                                                         "created": out["created"], "diff": _short(out["diff"], 4000)},
                   out["at"])
    return f"wrote {out['path']}" + (" (new file)" if out["created"] else "")


async def edit_file(ctx: RunContext[TaskDeps], path: str, old: str, new: str) -> str:
    """Replace the one exact occurrence of `old` with `new` in a workspace file."""
    d = ctx.deps
    key = _key(path)
    await _absorb_changes(d)
    if key not in d.seen:
        # The hash the edit is based on must be journaled before the edit, so a re-run edit can
        # tell "already applied" from "changed by someone else".
        async def look():
            sha = files.file_hash(d.root, path)
            if sha is None:
                raise WorkspaceError(f"{path} does not exist; use write_file to create it")
            return {"sha": sha}

        seen = await d.runner.step("hash_file", lambda: _guarded(look))
        if not seen["ok"]:
            return _fail(d, "edit", f"edit_file {path}", seen)
        d.seen[key] = seen["sha"]
    expected = d.seen[key]
    if edit_needs_approval(d.mode):
        async def plan():
            return asdict(files.edit_file(d.root, path, old, new, expected, dry_run=True))

        _, refusal = await _review(d, "edit_file", path, plan, {"old": old, "new": new})
        if refusal:
            return refusal
    answer = await editor_route.edit(d, key, "edit_file", {"old": old, "new": new}, edit_needs_approval(d.mode))
    if answer is not None:
        return editor_route.outcome(d, "edit_file", key, answer)

    async def act():
        return asdict(files.edit_file(d.root, path, old, new, expected))

    out = await d.runner.step("edit_file", lambda: _guarded(act))
    if not out["ok"]:
        return _fail(d, "edit", f"edit_file {path}", out)
    d.seen[key] = out["sha"]
    d.runner.event("edit", f"edit_file {out['path']}", {"path": out["path"], "sha": out["sha"],
                                                        "diff": _short(out["diff"], 4000)}, out["at"])
    return f"edited {out['path']}"


async def run_command(ctx: RunContext[TaskDeps], command: str, cwd: str = ".", timeout_s: float = 120) -> str:
    """Run a shell command in a fresh process. `cd` and `export` carry over to the next command."""
    d = ctx.deps
    if not command_allowed(command, d.commands_allow):
        refusal = await _refused(d, {"action": "command", "command": command, "cwd": d.shell.cwd if cwd == "." else cwd,
                                     "question": "Run this command? It is not in commands.allow."})
        if refusal:
            return refusal
    state = shell.ShellState(cwd=d.shell.cwd, env=dict(d.shell.env))

    async def act():
        r = await shell.run_command(d.root, command, state, cwd=cwd, timeout_s=timeout_s)
        return {"result": asdict(r), "text": r.to_model_text()}

    out = await d.runner.step("run_command", lambda: _guarded(act))
    if not out["ok"]:
        return _fail(d, "tool", f"run_command {_short(command, 80)}", out)
    r = out["result"]
    d.shell.cwd, d.shell.env = r["cwd"], dict(r["env"])
    d.runner.event("tool", f"run_command {_short(command, 80)}",
                   {"exitCode": r["exit_code"], "cwd": r["cwd"], "timedOut": r["timed_out"],
                    "stdout": _short(r["stdout"]), "stderr": _short(r["stderr"])}, out["at"])
    return out["text"]


TOOLS = [
    Tool(fn, takes_ctx=True, sequential=True)  # sequential: one journal order, no racing writes
    for fn in (list_files, read_file, search, write_file, edit_file, run_command)
]
