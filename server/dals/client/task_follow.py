"""Following one task's events: the loop `dals lsp` (`lsp/task_stream.py`) and the CLI
(`dals run`, `cli/follow.py`) both use, as an async generator of pages.

Each page is what one read of `AgentTask/events` brought (or a push that stands in for a read:
`event_wakeups.ReadPacer.pushed_page`): the durable summary and the new events, in seq order,
with no gap and no duplicate after the follower's `cursor`. Between reads it waits until the task
changes: for a `hint` task (its worker shares this state dir) for a wake-up datagram, at most a
second; for a `feed` task (a worker elsewhere) on a long-poll of its `TaskFeed`. Which of the two
a task uses is in its summary; its worker chose when the task started (`durable/side_channels.py`).
Restate being briefly unreachable (a restart) is waited out, never fatal.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from ..durable.task_status import TERMINAL
from ..local.event_wakeups import HintListener, ReadPacer
from .restate_api import RestateUnavailable
from .tasks import TaskService

log = logging.getLogger("dals.follow")

RETRY_S = 0.25  # before reading again when Restate is unreachable


@dataclass
class Page:
    """What one read brought: the task's durable summary (None before the task wrote one), the
    events after the cursor, and whether the followed turn has ended with them."""

    summary: dict[str, Any] | None
    events: list[dict[str, Any]]
    ended: bool = False


@dataclass
class TaskFollower:
    """One task followed from event `cursor` on; the turn that ends at or before event `after` is
    a previous one (a follow-up was just sent). Both may be moved on while following (`seen`, a
    follow-up of the same task). `on_delta(task, seq, text)`: live model text of hint tasks."""

    service: TaskService
    task_id: str
    cursor: int = 0
    after: int = 0
    on_delta: Callable[[str, int, str], None] | None = None
    summary: dict[str, Any] | None = None  # the latest durable summary read or pushed
    reads: int = 0  # reads of `AgentTask/events` (benchmarks report them)
    pacer: ReadPacer | None = field(default=None, repr=False)
    _version: int = 0  # the TaskFeed version last seen (feed tasks)
    finished: bool = False  # `pages()` has returned: a follow-up needs a new follower

    def seen(self, seq: int) -> None:
        """The events up to `seq` reached the client another way: they are not given again."""
        self.cursor = max(self.cursor, seq)

    async def pages(self) -> AsyncIterator[Page]:
        """A page per read until the turn has ended (that page is the last, `ended` set)."""
        try:
            while True:
                page = self.pacer.pushed_page(self.summary) if self.pacer else None
                if page is None:
                    try:
                        self.reads += 1
                        page = await self.service.events_since(self.task_id, self.cursor)
                    except RestateUnavailable as e:
                        log.debug("read %s: %s", self.task_id, e)
                        await asyncio.sleep(RETRY_S)
                        continue
                yield self._take(page)
                summary = self.summary
                if summary and summary["status"] in TERMINAL and self.cursor >= summary["lastSeq"] > self.after:
                    return
                if summary and self.cursor < summary["lastSeq"]:
                    continue  # more than one page: read on
                await self._wait()
        finally:
            self.finished = True
            if self.pacer is not None:
                self.pacer.hints.forget(self.task_id)

    def _take(self, page: dict[str, Any]) -> Page:
        summary = page.get("summary")
        if summary:
            self.summary = summary
        fresh = []
        for event in page.get("events", []):
            if event["seq"] != self.cursor + 1:
                continue  # a duplicate is dropped; a gap is read again by the next read
            self.cursor = event["seq"]
            fresh.append(event)
        s = self.summary
        ended = bool(s and s["status"] in TERMINAL and self.cursor >= s["lastSeq"] > self.after)
        return Page(summary, fresh, ended)

    async def _hints(self) -> HintListener | None:
        if self.service.wakeup_of(self.summary) != "hint":
            return None
        hints = await self.service.hints()
        if hints is not None and self.on_delta is not None:
            hints.on_delta = self.on_delta
        return hints

    async def _wait(self) -> None:
        """Until the task has changed (or it is time to look anyway)."""
        hints = await self._hints()
        if hints is not None:
            self.pacer = self.pacer or ReadPacer(hints, self.task_id)
            await self.pacer.before_next_read((self.summary or {}).get("rev", 0))
            return
        try:
            self._version = await self.service.wait_change(self.task_id, self._version)
        except RestateUnavailable as e:
            log.debug("long-poll %s: %s", self.task_id, e)
            await asyncio.sleep(RETRY_S)
