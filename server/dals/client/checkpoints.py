"""Fork, rewind and undo from the client side (`dals.forkTask`, `dals.rewindTask`,
`dals.undoTask`, `dals undo`): checked against the task as the user sees it, then signed and sent
to the task object (durable/task_checkpoints.py), which does the work durably.
"""

from __future__ import annotations

from typing import Any

from ..agent.deps import now_iso
from ..config.settings import state_dir
from ..durable.checkpoint_plan import preview
from ..durable.task_spec import TaskSpec
from ..durable.task_status import TERMINAL
from ..local.event_wakeups import state_dir_id
from .tasks import _KEY, SERVICE, TaskService, UnknownTask, WrongState, new_task_id, title_of

TIMEOUT_S = 300.0  # an undo of many or large files is one call; Restate finishes it across crashes


class UnknownSeq(ValueError):
    """The task has no such event."""


async def _ended(service: TaskService, task_id: str, what: str, events: bool = True) -> dict[str, Any]:
    """The task (with its events, else its summary only), refused unless it has ended."""
    if events:
        shown = await service.show(task_id)  # UnknownTask for an unknown id
    else:
        if not _KEY.match(task_id):
            raise UnknownTask(task_id)
        shown = (await service.events_since(task_id, 1 << 30))["summary"]
        if shown is None:
            raise UnknownTask(task_id)
    if shown["status"] not in TERMINAL:
        raise WrongState(
            f"task {task_id} is {shown['status']}: it cannot be {what} while it runs (cancel it, or wait for it to end)"
        )
    return shown


def _check_seq(shown: dict[str, Any], seq: Any, field: str) -> int:
    last = shown.get("lastSeq") or 0
    if not isinstance(seq, int) or isinstance(seq, bool) or not 1 <= seq <= last:
        raise UnknownSeq(f"{field}: task {shown['taskId']} has no event {seq!r} (its events are 1-{last})")
    return seq


async def undo(service: TaskService, task_id: str, dry_run: bool = False) -> dict[str, Any]:
    """`{taskId, reverted: [path], skipped: [{path, reason}]}`; with `dry_run`, nothing is done:
    `{taskId, dryRun, revert: [path], commands}` (what an editor shows before asking)."""
    shown = await _ended(service, task_id, "undone", events=dry_run)
    if dry_run:
        return {"taskId": task_id, "dryRun": True, **preview(shown["events"], 0)}
    got = await service.api.call(
        SERVICE, task_id, "undo", service.signed("undo", task_id, {"at": now_iso()}), timeout=TIMEOUT_S
    )
    return _answer(got)


async def rewind(service: TaskService, task_id: str, to_seq: Any, dry_run: bool = False) -> dict[str, Any]:
    """`{taskId, toSeq, reverted, skipped, commands}` (commands run after `toSeq`: not undone);
    with `dry_run`, `{taskId, toSeq, dryRun, revert, commands}` and nothing done."""
    shown = await _ended(service, task_id, "rewound", events=dry_run)
    to_seq = _check_seq(shown, to_seq, "toSeq")
    if dry_run:
        return {"taskId": task_id, "toSeq": to_seq, "dryRun": True, **preview(shown["events"], to_seq)}
    if "turns" not in shown:
        raise WrongState(f"task {task_id} was started before DALS kept conversations: it cannot be rewound")
    got = await service.api.call(
        SERVICE,
        task_id,
        "rewind",
        service.signed("rewind", task_id, {"toSeq": to_seq, "at": now_iso()}),
        timeout=TIMEOUT_S,
    )
    return _answer(got)


async def fork(service: TaskService, task_id: str, at_seq: Any, prompt: str | None) -> dict[str, Any]:
    """Start a new task on the conversation of `task_id` up to event `at_seq`: `{taskId}`."""
    shown = await _ended(service, task_id, "forked", events=False)
    at_seq = _check_seq(shown, at_seq, "atSeq")
    source = await service.api.call(SERVICE, task_id, "fork_source", {"atSeq": at_seq, "history": False}, timeout=60.0)
    if "error" in source:
        raise WrongState(source["error"])
    spec = dict(source["spec"])
    new_id = new_task_id()
    # the old task's file context is in the conversation already: the new prompt stands alone
    spec.update(
        taskId=new_id,
        prompt=prompt or "",
        createdAt=now_iso(),
        origin=state_dir_id(state_dir()),
        forkedFrom={"taskId": task_id, "atSeq": at_seq},
        uri=None,
        path=None,
        range=None,
        title=title_of(prompt) if prompt else f"Fork of {spec.get('title', task_id)}"[:60],
    )
    # signed as a start of the new task, checked like any other (dals.trust)
    await service.start(TaskSpec.model_validate(spec))
    return {"taskId": new_id}


def _answer(got: Any) -> dict[str, Any]:
    if isinstance(got, dict) and got.get("refused"):
        from .restate_api import RestateUnavailable

        raise RestateUnavailable(
            f"the worker refused it: {got['refused']} "
            "(is this client's key the one the worker trusts? see docs/security.md)"
        )
    if not isinstance(got, dict):
        raise UnknownTask(str(got))
    return got
