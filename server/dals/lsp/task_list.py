"""`dals.listTasks` from memory: the last full `TaskService.list()`, refreshed in the background,
overlaid with fresher data this server already has.

`TaskService.list()` is three admin SQL queries through Restate's DataFusion: 70 ms idle, up to a
second while tasks run (docs/optimisation-log.md, section 7). So the answer is the cached list, and a
refresh is started in the background when the list is older than `MAX_AGE` (single flight: one
refresh at a time, and none while no request comes). On top of the cached list:

- the latest durable summary of each task the task stream follows, when it is newer (`lastSeq`,
  then `rev`) than the cached entry: its public fields are recomputed with `public_summary`;
- a `dals.showTask` answer given after the cached list was read (it joined the invocation too);
- tasks started here that no list has shown yet (`TaskService.pending`).

A command that changes a task (`invalidate`) makes the next call wait for a refresh started after
it. The first call, with nothing cached, waits too, and fails as `TaskService.list()` does; a
refresh that fails with a list cached is logged and the cached list served.
"""

from __future__ import annotations

import asyncio
import builtins
import itertools
import logging
import time
from collections.abc import Callable
from typing import Any

from ..client.task_summary import public_summary
from ..client.tasks import TaskService
from ..durable.task_status import TERMINAL

log = logging.getLogger("dals.lsp.task_list")

MAX_AGE = 1.0  # seconds: at most one background refresh per MAX_AGE while requests come

Summaries = Callable[[], dict[str, dict[str, Any]]]


def freshness(summary: dict[str, Any]) -> tuple[int, int]:
    """How far a durable summary has got: its last event, then its revision (hint-mode tasks
    bump `rev` on writes without an event). A task started here and not yet written is (0, 0)."""
    return int(summary.get("lastSeq") or 0), int(summary.get("rev") or 0)


def overlay(durable: dict[str, Any], cached: dict[str, Any]) -> dict[str, Any]:
    """The public summary of a durable summary newer than `cached`.

    Restate's view of the invocation (`retrying`/`paused` while it backs off, `failed` once it
    completed without a terminal summary) is not carried over: the handler wrote after the cached
    list was read, so that view is out of date; the next refresh brings the current one. The replay
    counts (TaskLedger) are the cached ones.
    """
    usage = cached.get("usage") or {}
    replayed = {
        "requests": usage.get("replayedRequests", 0),
        "inputTokens": usage.get("replayedInputTokens", 0),
        "outputTokens": usage.get("replayedOutputTokens", 0),
    }
    invocation = {"id": cached["invocationId"]} if cached.get("invocationId") else None
    return public_summary(durable, invocation, replayed)


class TaskList:
    def __init__(self, service: TaskService, followed: Summaries = dict, max_age: float = MAX_AGE):
        self.service = service
        self.followed = followed  # the task stream's latest durable summary per followed task
        self.max_age = max_age
        self._clock = itertools.count(1)  # orders refresh starts, invalidations and observations
        self._tasks: dict[str, dict[str, Any]] | None = None  # the last full list, by task id
        self._listed = 0  # clock of the start of the refresh that produced `_tasks`
        self._dirty = 0  # clock of the last `invalidate`
        self._shown: dict[str, tuple[int, dict[str, Any]]] = {}  # showTask answers: clock, summary
        self._refreshing: asyncio.Task | None = None
        self._last_start = float("-inf")  # time.monotonic() of the last refresh start
        self._failing = False

    async def list(self, statuses: list[str] | None = None) -> list[dict[str, Any]]:
        if self._tasks is None or self._dirty > self._listed:
            await self._wait_fresh()
        elif time.monotonic() - self._last_start >= self.max_age and self.refreshing is None:
            self._start_refresh()
        return self._compose(statuses)

    @property
    def refreshing(self) -> asyncio.Task | None:
        """The refresh in flight, if any."""
        task = self._refreshing
        return task if task is not None and not task.done() else None

    def invalidate(self) -> None:
        """A task was changed through this server: the next `list` waits for a refresh after now."""
        self._dirty = next(self._clock)

    def started(self) -> None:
        """A task was started here: `TaskService.pending` shows it until a refresh does; refresh soon."""
        if self._tasks is not None and self.refreshing is None:
            self._start_refresh()

    def public(self, durable: dict[str, Any]) -> dict[str, Any]:
        """The public summary of a task's durable summary, as `list` would show it now (what a
        `dals/taskEvent` carries): over the cached entry's view of Restate, as the overlay does."""
        cached = self._shown.get(durable["taskId"], (0, None))[1] or (self._tasks or {}).get(durable["taskId"])
        return overlay(durable, cached) if cached is not None else public_summary(durable, None, None)

    def shown(self, summary: dict[str, Any]) -> None:
        """A `dals.showTask` answer: as fresh as anything cached now (it read the invocation too)."""
        if summary.get("createdAt") is None:  # not written yet: no whole summary to show
            return
        self._shown[summary["taskId"]] = (next(self._clock), {k: v for k, v in summary.items() if k != "events"})

    async def _wait_fresh(self) -> None:
        while self._tasks is None or self._dirty > self._listed:
            refresh = self.refreshing or self._start_refresh()
            try:
                await asyncio.shield(refresh)
            except asyncio.CancelledError:
                raise
            except Exception:
                if self._tasks is None:
                    raise
                return  # logged by the refresh; the cached list is served

    def _start_refresh(self) -> asyncio.Task:
        self._last_start = time.monotonic()
        task = asyncio.get_running_loop().create_task(self._refresh(next(self._clock)), name="refresh task list")
        self._refreshing = task
        task.add_done_callback(_retrieve)
        return task

    async def _refresh(self, started: int) -> None:
        try:
            tasks = await self.service.list()
        except Exception as e:
            if self._tasks is not None:
                (log.debug if self._failing else log.warning)("task list not refreshed, serving the cached one: %s", e)
            self._failing = True
            raise
        finally:
            self._refreshing = None
        self._failing = False
        self._tasks = {t["taskId"]: t for t in tasks}
        self._listed = started
        self._shown = {k: v for k, v in self._shown.items() if v[0] > started}

    def _compose(self, statuses: builtins.list[str] | None) -> builtins.list[dict[str, Any]]:  # `list`: the method
        tasks = dict(self._tasks or {})
        for task_id, (_, summary) in self._shown.items():
            tasks[task_id] = summary
        for task_id, durable in list(self.followed().items()):
            cached = tasks.get(task_id)
            if cached is None:
                # not listed yet: started here since the last refresh (else it is gone: purged)
                if durable.get("status") not in TERMINAL or task_id in self.service.pending:
                    tasks[task_id] = public_summary(durable, None, None)
            elif freshness(durable) > freshness(cached):
                tasks[task_id] = overlay(durable, cached)
        for task_id, spec in list(self.service.pending.items()):
            if task_id not in tasks:
                tasks[task_id] = public_summary(spec, None, None)
        out = sorted(tasks.values(), key=lambda t: t.get("createdAt", ""), reverse=True)
        if statuses:
            out = [t for t in out if t["status"] in statuses]
        return out


def _retrieve(task: asyncio.Task) -> None:
    """A background refresh's failure is logged by the refresh; nobody else may await it."""
    if not task.cancelled():
        task.exception()
