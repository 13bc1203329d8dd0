"""The agent tools of the contract, as plain pydantic-ai function tools: the writing ones here
(`write_file`, `edit_file`, `multi_edit`, `run_command`), the reading ones in `read_tools.py`,
`diagnostics` in `editor_diagnostics.py`; `TOOLS` is the list the agent gets.

Every side effect runs inside `deps.runner.step(...)` and returns plain data (so a journal can hold
it); workspace errors become values the model reads ("error: …"), never exceptions that would
make a durable runtime retry. What the task has read is tracked by content hash in `deps.seen`,
rebuilt from step results on replay, and guards every write (Guarantee 3).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, NotRequired

from pydantic_ai import RunContext, Tool
from typing_extensions import TypedDict

from ..workspace import checkpoints, files, shell
from ..workspace.errors import WorkspaceError
from . import editor_route
from .delete_tool import delete_file
from .deps import TaskDeps, now_iso
from .editor_diagnostics import diagnostics
from .policy import command_allowed, edit_needs_approval
from .read_tools import list_files, read_file, search
from .tool_steps import blob_store, fail, guarded, key_of, short

STALE = "stale:"
PROPOSED_LIMIT = 200_000  # characters: a longer proposed text is left out of the approval request (the diff stays)


async def _absorb_changes(d: TaskDeps) -> None:
    """Files changed outside the task since it read them: say so, and forget what was read, so a
    stale edit is refused ("changed since read") instead of overwriting someone's work."""
    for note in await d.runner.changes():
        key = key_of(note.get("path") or "")
        known = d.seen.get(key)
        own = getattr(d.seen, "history", {}).get(key, ())
        if known is None or known.startswith(STALE) or note.get("sha") == known or note.get("sha") in own:
            continue  # not read by this task, already stale, or one of the task's own writes
        d.seen[key] = STALE + known
        how = "deleted" if note.get("change") == "deleted" else "changed"
        d.runner.event(
            "log",
            f"{key} {how} outside the task; it must be read again",
            {"path": key, "change": how, "sha": note.get("sha")},
            note.get("at") or now_iso(),
        )


async def _refused(d: TaskDeps, request: dict[str, Any]) -> str | None:
    """Ask the user; None when approved, else what the model is told."""
    answer = await d.runner.ask(request)
    if answer.get("decision") == "approve":
        return None
    comment = (answer.get("comment") or "").strip()
    return "rejected by the user" + (f": {comment}" if comment else "") + "; nothing was changed"


async def _review(d: TaskDeps, tool: str, path: str, plan, payload: dict[str, Any]) -> dict[str, Any] | str:
    """Review mode: propose the change (against the editor's buffer when the file is open there,
    else a journaled dry run on disk), then wait for the user's answer.
    Returns the proposal to go on, or the text for the model (a failure or a refusal)."""
    proposal = await editor_route.propose(d, key_of(path), tool, payload)
    if proposal is None:
        proposal = await d.runner.step(f"propose {tool}", lambda: guarded(plan))
    if not proposal["ok"]:
        return fail(d, "edit", f"{tool} {path}", proposal)
    if not proposal["already_applied"]:
        request = {
            "action": "edit",
            "tool": tool,
            "path": proposal["path"],
            "diff": proposal["diff"],
            "question": f"Apply this change to {proposal['path']}?",
        }
        proposed = proposal.get("proposed")  # absent from a dry run journaled before it was kept
        if isinstance(proposed, str) and len(proposed) <= PROPOSED_LIMIT:
            request["proposed"] = proposed  # the clients show it beside the file, and apply no diff
        refusal = await _refused(d, request)
        if refusal:
            return refusal
    return proposal


async def write_file(ctx: RunContext[TaskDeps], path: str, content: str) -> str:
    """Create or replace a workspace file with `content`. Refused if it changed since you read it.

    Prefer edit_file or multi_edit to change part of an existing file.
    E.g. write_file(path="src/version.py", content="VERSION = '1.2.0'")

    Args:
        path: workspace-relative path; missing directories are created.
        content: the whole new text of the file.
    """
    d = ctx.deps
    key = key_of(path)
    await _absorb_changes(d)
    base: dict[str, Any] = {}
    if edit_needs_approval(d.mode):

        async def plan():
            expected = d.seen[key] if key in d.seen else files.file_hash(d.root, path)
            return asdict(files.write_file(d.root, path, content, expected, dry_run=True)) | {"base": expected}

        proposal = await _review(d, "write_file", path, plan, {"content": content})
        if isinstance(proposal, str):
            return proposal
        base["sha"] = proposal["base"]
    answer = await editor_route.edit(
        d, key, "write_file", {"content": content}, edit_needs_approval(d.mode), expected=base.get("sha")
    )
    if answer is not None:
        return _edited(d, editor_route.outcome(d, "write_file", key, answer))

    async def act():
        if "sha" in base:
            expected = base["sha"]
        else:
            expected = d.seen[key] if key in d.seen else files.file_hash(d.root, path)
        before = checkpoints.capture(d.root, path, expected, blob_store())
        return asdict(files.write_file(d.root, path, content, expected)) | {"before": before}

    out = await d.runner.step("write_file", lambda: guarded(act))
    if not out["ok"]:
        return fail(d, "edit", f"write_file {path}", out)
    d.seen[key] = out["sha"]
    d.runner.event(
        "edit",
        f"write_file {out['path']}",
        {"path": out["path"], "sha": out["sha"], "created": out["created"], "diff": short(out["diff"], 4000)}
        | _before(out),
        out["at"],
    )
    d.edited = True
    return f"wrote {out['path']}" + (" (new file)" if out["created"] else "")


async def edit_file(ctx: RunContext[TaskDeps], path: str, old: str, new: str, replace_all: bool = False) -> str:
    """Replace exact text in a workspace file: the one occurrence of `old`, or all with replace_all.

    `old` must match the file exactly (spaces and indentation included) and, without
    replace_all, occur exactly once: quote enough context to make it unique.
    E.g. edit_file(path="app.py", old="def greet(name):", new="def greet(name: str):")

    Args:
        path: workspace-relative path of the file.
        old: the exact text to replace.
        new: the text to put in its place.
        replace_all: replace every occurrence of `old` (e.g. to rename a variable).
    """
    if replace_all:
        return await _edit_many(
            ctx.deps,
            "edit_file",
            path,
            [{"old": old, "new": new, "replace_all": True}],
            {"old": old, "new": new, "replace_all": True},
        )
    d = ctx.deps
    key = key_of(path)
    await _absorb_changes(d)
    if failed := await _ensure_seen(d, path):
        return fail(d, "edit", f"edit_file {path}", failed)
    expected = d.seen[key]
    if edit_needs_approval(d.mode):

        async def plan():
            return asdict(files.edit_file(d.root, path, old, new, expected, dry_run=True))

        refusal = await _review(d, "edit_file", path, plan, {"old": old, "new": new})
        if isinstance(refusal, str):
            return refusal
    answer = await editor_route.edit(d, key, "edit_file", {"old": old, "new": new}, edit_needs_approval(d.mode))
    if answer is not None:
        return _edited(d, editor_route.outcome(d, "edit_file", key, answer))

    async def act():
        before = checkpoints.capture(d.root, path, expected, blob_store())
        return asdict(files.edit_file(d.root, path, old, new, expected)) | {"before": before}

    out = await d.runner.step("edit_file", lambda: guarded(act))
    if not out["ok"]:
        return fail(d, "edit", f"edit_file {path}", out)
    return _edited(d, _record_edit(d, "edit_file", key, out))


class Edit(TypedDict):
    """One edit of `multi_edit`."""

    old: str
    new: str
    replace_all: NotRequired[bool]


async def multi_edit(ctx: RunContext[TaskDeps], path: str, edits: list[Edit]) -> str:
    """Make several exact-text edits to one workspace file, all or none.

    Edits apply in order, each to the result of the one before; each `old` must occur exactly
    once unless that edit sets replace_all. If any edit fails, the file is left unchanged.
    E.g. multi_edit(path="app.py", edits=[{"old": "import os", "new": "import os, sys"}, {"old": "count", "new": "total", "replace_all": true}])

    Args:
        path: workspace-relative path of the file.
        edits: the edits, in order: {"old": exact text, "new": its replacement, "replace_all": optional}.
    """  # noqa: E501  (the example above is one line of the text the model reads)
    return await _edit_many(ctx.deps, "multi_edit", path, edits, {"edits": edits})


async def _ensure_seen(d: TaskDeps, path: str) -> dict[str, Any] | None:
    """The hash an edit is based on, journaled before the edit, so a re-run edit can tell
    "already applied" from "changed by someone else". None, or the failed step's outcome."""
    key = key_of(path)
    if key in d.seen:
        return None

    async def look():
        sha = files.file_hash(d.root, path)
        if sha is None:
            raise WorkspaceError(f"{path} does not exist; use write_file to create it")
        return {"sha": sha}

    seen = await d.runner.step("hash_file", lambda: guarded(look))
    if not seen["ok"]:
        return seen
    d.seen[key] = seen["sha"]
    return None


async def _edit_many(d: TaskDeps, tool: str, path: str, edits: Any, payload: dict[str, Any]) -> str:
    """replace_all and multi_edit: the edit is planned first (a journaled dry run, or computed on the
    editor's buffer), so its result hash is known before it is made: a re-run recognises it."""
    key = key_of(path)
    await _absorb_changes(d)
    if failed := await _ensure_seen(d, path):
        return fail(d, "edit", f"{tool} {path}", failed)
    expected = d.seen[key]

    review = edit_needs_approval(d.mode)

    async def plan():
        out = asdict(files.multi_edit(d.root, path, edits, expected, dry_run=True)) | {"base": expected}
        if not review:
            out.pop("proposed")  # only an approval shows it: not journaled otherwise
        return out

    if review:
        reviewed = await _review(d, tool, path, plan, payload)
        if isinstance(reviewed, str):
            return reviewed
        proposal = reviewed
    else:
        proposed = await editor_route.propose(d, key, tool, payload)
        if proposed is None:
            proposed = await d.runner.step(f"plan {tool}", lambda: guarded(plan))
        if not proposed["ok"]:
            return fail(d, "edit", f"{tool} {path}", proposed)
        proposal = proposed
    base, target = proposal["base"], proposal["sha"]
    answer = await editor_route.edit(d, key, tool, payload | {"target": target}, review, expected=base)
    if answer is not None:
        return _edited(d, editor_route.outcome(d, tool, key, answer))

    async def act():
        before = checkpoints.capture(d.root, path, base, blob_store())
        return asdict(files.multi_edit(d.root, path, edits, base, target_sha=target)) | {"before": before}

    out = await d.runner.step(tool, lambda: guarded(act))
    if not out["ok"]:
        return fail(d, "edit", f"{tool} {path}", out)
    return _edited(d, _record_edit(d, tool, key, out))


def _record_edit(d: TaskDeps, tool: str, key: str, out: dict[str, Any]) -> str:
    d.seen[key] = out["sha"]
    d.runner.event(
        "edit",
        f"{tool} {out['path']}",
        {"path": out["path"], "sha": out["sha"], "diff": short(out["diff"], 4000)} | _before(out),
        out["at"],
    )
    return f"edited {out['path']}"


def _before(out: dict[str, Any]) -> dict[str, Any]:
    """The checkpoint of a change (`before`: the hash of the content kept, None: no file before);
    nothing for a change that changed nothing. An edit a crashed run made already keeps it."""
    if "before" not in out or out["before"] == out["sha"] or (out["before"] is None and out.get("already_applied")):
        return {}
    return {"before": out["before"]}


def _edited(d: TaskDeps, text: str) -> str:
    if not text.startswith("error:"):
        d.edited = True  # the next diagnostics call waits for the language servers to re-check
    return text


async def run_command(ctx: RunContext[TaskDeps], command: str, cwd: str = ".", timeout_s: float = 120) -> str:
    """Run a shell command in a fresh process. `cd` and `export` carry over to the next command.

    Answers the exit code, stdout, stderr and the cwd after it. Commands outside the user's
    allowed list wait for their approval. E.g. run_command(command="pytest -q tests/test_app.py")

    Args:
        command: a shell command line (bash).
        cwd: where to run it, relative to the workspace (default: where the last `cd` left you).
        timeout_s: seconds before the command is killed.
    """
    d = ctx.deps
    if not command_allowed(command, d.commands_allow):
        refusal = await _refused(
            d,
            {
                "action": "command",
                "command": command,
                "cwd": d.shell.cwd if cwd == "." else cwd,
                "question": "Run this command? It is not in commands.allow.",
            },
        )
        if refusal:
            return refusal
    state = shell.ShellState(cwd=d.shell.cwd, env=dict(d.shell.env))

    async def act():
        r = await shell.run_command(d.root, command, state, cwd=cwd, timeout_s=timeout_s)
        return {"result": asdict(r), "text": r.to_model_text()}

    out = await d.runner.step("run_command", lambda: guarded(act))
    if not out["ok"]:
        return fail(d, "tool", f"run_command {short(command, 80)}", out)
    r = out["result"]
    d.shell.cwd, d.shell.env = r["cwd"], dict(r["env"])
    d.runner.event(
        "tool",
        f"run_command {short(command, 80)}",
        {
            "command": command,
            "exitCode": r["exit_code"],
            "cwd": r["cwd"],
            "timedOut": r["timed_out"],
            "stdout": short(r["stdout"]),
            "stderr": short(r["stderr"]),
        },
        out["at"],
    )
    return out["text"]


TOOLS = [
    Tool(fn, takes_ctx=True, sequential=True)  # sequential: one journal order, no racing writes
    for fn in (list_files, read_file, search, write_file, edit_file, multi_edit, delete_file, diagnostics, run_command)
]
