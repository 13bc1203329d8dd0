"""How a task reaches its followers and editors, chosen once when it starts: through this
machine's state dir when the worker shares the front end's (wake-up datagrams with the writes,
the editor registry, TaskNotes read in a step), else through Restate (`TaskFeed`,
`EditorSessions`, notes read in a step when the worker reaches the ingress, else in a call:
TaskSpec.notesRead "auto"), which reaches a worker anywhere.

The front end puts its state dir's id in the spec (`origin`); the worker compares it with its
own in a journaled step, so every replay and every turn of the task uses what the first attempt
chose, and the choice lands in the spec's `wakeup`, `editorLookup` and `notesRead` (kept with the
spec for follow-ups). Tasks from before (no `origin`) keep the fields they were started with.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ..config.settings import state_dir
from ..local.event_wakeups import state_dir_id
from .task_spec import TaskSpec

STEP = "where the task's clients are"
LOCAL = {"wakeup": "hint", "editorLookup": "local", "notesRead": "step"}
ELSEWHERE = {"wakeup": "feed", "editorLookup": "restate", "notesRead": "auto"}


async def choose(spec: TaskSpec, run_step: Callable[[str, Callable[[], Awaitable[Any]]], Awaitable[Any]]) -> TaskSpec:
    """`spec` with its side channels chosen (journaled by `run_step`); as it is without `origin`."""
    if not spec.origin:
        return spec

    async def here() -> bool:
        return state_dir_id(state_dir(), create=False) == spec.origin

    local = await run_step(STEP, here)
    return spec.model_copy(update=LOCAL if local else ELSEWHERE)
