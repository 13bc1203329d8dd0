"""Undo and rewind (`AgentTask/{id}/undo`, `/rewind`, exclusive) and the source of a fork
(`/fork_source`, shared): Guarantee 8.

An undo or rewind is an invocation of the task object like a turn, signed by the user's client.
It reverts the task's file changes newest first, one journaled step per file (hash-guarded: a
file someone changed since is skipped with the reason, never overwritten; a re-run of a step
after a crash finds its file already back and writes nothing), marks the changes reverted in
state (so undoing twice changes nothing), and ends with a `status` event saying what it did.
A rewind then cuts the conversation back to its event. Files open in the user's editor are
reverted through it (`workspace/applyEdit`), like the task's edits.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from pydantic_ai.messages import ModelMessagesTypeAdapter
from restate import ObjectContext, ObjectSharedContext, TerminalError

from ..agent.tool_steps import blob_store
from ..config.settings import current
from ..workspace import checkpoints as store
from ..workspace.text_bytes import decode_text
from . import conversation
from .checkpoint_plan import BETWEEN, NOT_KEPT, changes_after, commands_after, cut_messages
from .input_check import Refused, check
from .task_object import STEP_OPTIONS, JournalRunner, _iso, agent_task
from .task_record import SPEC, SUMMARY, TaskRecord, event_key
from .task_spec import TaskSpec
from .task_status import TERMINAL

REVERTED = "checkpoints:reverted"  # seqs of the edit events reverted by an undo or rewind
# Test-only: seconds each revert step waits after its write (a kill -9 lands between the write
# and its journal entry).
_REVERT_DELAY_S = current().test_revert_delay_s


async def _events(ctx, upto: int | None = None) -> list[dict[str, Any]]:
    summary = await ctx.get(SUMMARY)
    last = summary["lastSeq"] if upto is None else min(upto, summary["lastSeq"])
    found = [await ctx.get(event_key(seq)) for seq in range(1, last + 1)]
    return [e for e in found if e]


async def _start(ctx: ObjectContext, request: Any, purpose: str) -> tuple[TaskRecord, Any] | dict[str, Any]:
    """The checked input and the task's record, or the refusal to answer."""
    summary: dict[str, Any] | None = await ctx.get(SUMMARY)
    try:
        body = check(request, purpose, ctx.key())
    except Refused as e:
        if summary:
            TaskRecord.resume(ctx, summary).refused(f"a {purpose}", str(e)[:300], _iso(await ctx.time()))
        return {"refused": str(e)[:300]}
    if not summary:
        raise TerminalError(f"unknown task {ctx.key()}", status_code=404)
    if summary["status"] not in TERMINAL:
        raise TerminalError(
            f"task {ctx.key()} is {summary['status']}: cancel it or wait for it to end first", status_code=409
        )
    return TaskRecord.resume(ctx, summary), body


async def _revert_all(ctx: ObjectContext, record: TaskRecord, after_seq: int) -> dict[str, Any]:
    events = await _events(ctx)
    reverted_seqs: list[int] = await ctx.get(REVERTED) or []
    done = set(reverted_seqs)
    spec_json: dict[str, Any] | None = await ctx.get(SPEC)
    spec = TaskSpec.model_validate(spec_json) if spec_json else None
    runner = JournalRunner(ctx, record, spec, ctx.run_typed) if spec and spec.editor else None
    root = Path(record.summary["workspace"])
    reverted, skipped, seqs = [], [], []
    for plan in changes_after(events, after_seq, done):
        path = plan["path"]
        if plan.get("unknown"):
            skipped.append({"path": path, "reason": NOT_KEPT})
            continue
        why = await _revert_one(ctx, runner, root, plan)
        if why:
            skipped.append({"path": path, "reason": why})
        else:
            reverted.append(path)
            seqs += plan["seqs"]
            done.update(plan["seqs"])
        if plan["broken"] and not why:
            skipped.append({"path": path, "reason": BETWEEN})
    if seqs:  # once, at the end: a re-run after a crash gets every step's outcome from the journal
        ctx.set(REVERTED, sorted(done))
    return {
        "reverted": reverted,
        "skipped": skipped,
        "commands": commands_after(events, after_seq),
        "revertedSeqs": sorted(seqs),
    }


async def _revert_one(ctx: ObjectContext, runner: JournalRunner | None, root: Path, plan: dict[str, Any]) -> str | None:
    path, now, back = plan["path"], plan["now"], plan["back"]
    if runner is not None and now is not None and back is not None:
        via_editor = await _through_editor(runner, path, now, back)
        if via_editor is not None:
            return via_editor or None

    async def act() -> dict[str, Any]:
        why = store.revert(root, path, now, back, blob_store())
        if _REVERT_DELAY_S:
            await asyncio.sleep(_REVERT_DELAY_S)
        return {"skipped": why}

    return (await ctx.run_typed(f"revert {path}", act, STEP_OPTIONS))["skipped"]


async def _through_editor(runner: JournalRunner, path: str, now: str, back: str) -> str | None:
    """A text file open in the editor: set its buffer back with a guarded edit. None: not open (or
    no answer, or not text): the disk path; "" when reverted, else why not."""
    session = await runner.editor_for(path)
    if not session:
        return None
    data = blob_store().get(back)
    text = decode_text(data) if data is not None else None
    if text is None:
        return None
    answer = await runner.editor(
        {
            "op": "edit",
            "sessionId": session,
            "path": path,
            "tool": "write_file",
            "expected": now,
            "review": False,
            "content": text,
        }
    )
    if not answer or answer.get("reason") == "closed":
        return None
    if answer.get("applied"):
        return ""
    return "changed since the task changed it (open in the editor); left as it is"


def _summary_of(outcome: dict[str, Any]) -> str:
    parts = [f"{len(outcome['reverted'])} file(s) reverted"]
    if outcome["skipped"]:
        parts.append(f"{len(outcome['skipped'])} skipped")
    if outcome.get("commands"):
        parts.append(f"{len(outcome['commands'])} command(s) not undone")
    return ", ".join(parts)


@agent_task.handler(name="undo")
async def undo(ctx: ObjectContext, request: dict[str, Any]) -> dict[str, Any]:
    """Every file the task changed back to its content before the task (signed "undo")."""
    started = await _start(ctx, request, "undo")
    if isinstance(started, dict):
        return started
    record, _ = started
    outcome = await _revert_all(ctx, record, 0)
    outcome.pop("commands")
    record.emit("status", f"Undone: {_summary_of(outcome)}", _iso(await ctx.time()), {"undo": True, **outcome})
    outcome.pop("revertedSeqs")
    return {"taskId": ctx.key(), **outcome}


@agent_task.handler(name="rewind")
async def rewind(ctx: ObjectContext, request: dict[str, Any]) -> dict[str, Any]:
    """Back to event `toSeq` (signed "rewind"): later file changes reverted, the conversation cut
    there; the task is then ready for a follow-up."""
    started = await _start(ctx, request, "rewind")
    if isinstance(started, dict):
        return started
    record, body = started
    to_seq = body.get("toSeq") if isinstance(body, dict) else None
    if not isinstance(to_seq, int) or not 0 <= to_seq <= record.summary["lastSeq"]:
        raise TerminalError(
            f"task {ctx.key()} has no event {to_seq!r} (its events are 1-{record.summary['lastSeq']})", status_code=400
        )
    outcome = await _revert_all(ctx, record, to_seq)
    kept: list[dict[str, Any]] | None = await ctx.get(conversation.HISTORY)
    if kept is not None:
        ctx.set(conversation.HISTORY, cut_messages(kept, await _events(ctx), to_seq))
    record.emit(
        "status",
        f"Rewound to event {to_seq}: {_summary_of(outcome)}",
        _iso(await ctx.time()),
        {"rewind": True, "toSeq": to_seq, **outcome},
    )
    outcome.pop("revertedSeqs")
    return {"taskId": ctx.key(), "toSeq": to_seq, **outcome}


@agent_task.handler(name="fork_source", kind="shared")
async def fork_source(ctx: ObjectSharedContext, at_seq: Any) -> dict[str, Any]:
    """What a fork at event `at_seq` starts from: the task's spec and its conversation cut there
    (`{atSeq, history: false}`: the spec only, what a client checks first); `{error}` for a task or
    event that cannot be forked."""
    with_history = True
    if isinstance(at_seq, dict):
        with_history = at_seq.get("history", True) is not False
        at_seq = at_seq.get("atSeq")
    summary: dict[str, Any] | None = await ctx.get(SUMMARY)
    spec: dict[str, Any] | None = await ctx.get(SPEC)
    if not summary:
        return {"error": f"unknown task {ctx.key()}", "code": 404}
    if not spec:
        return {"error": f"task {ctx.key()} was started before DALS kept conversations: it cannot be forked"}
    if summary["status"] not in TERMINAL:
        return {"error": f"task {ctx.key()} is {summary['status']}: fork it once it has ended"}
    if not isinstance(at_seq, int) or not 1 <= at_seq <= summary["lastSeq"]:
        return {
            "error": f"task {ctx.key()} has no event {at_seq!r} (its events are 1-{summary['lastSeq']})",
            "field": "atSeq",
        }
    if not with_history:
        return {"spec": spec}
    history = cut_messages(await ctx.get(conversation.HISTORY) or [], await _events(ctx, at_seq), at_seq)
    ModelMessagesTypeAdapter.validate_python(history)  # a cut that does not load is a bug: fail loudly
    return {"spec": spec, "history": history}
