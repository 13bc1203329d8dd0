"""Streams each followed task's events to the client: `dals/taskEvent` in seq order with no gap
and no duplicate, one `$/progress` per running task, `window/showMessage` when it ends.

Events come from Restate (the task object's state), never from an in-memory bus: a new
`dals lsp` picks up where the journal is. The reading and waiting is `client.task_follow`'s (the
CLI's too); this module turns its pages into notifications.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from lsprotocol import types

from ..client.task_follow import TaskFollower
from ..client.task_summary import public_summary
from ..client.tasks import TaskService
from .protocol import TASK_DELTA, TASK_EVENT

if TYPE_CHECKING:
    from ..client.contract import TaskSummary

log = logging.getLogger("dals.lsp.stream")


class TaskStream:
    def __init__(self, server):
        self.server = server
        self.cursors: dict[str, int] = {}  # highest seq sent to the client, per task
        self.followers: dict[str, asyncio.Task] = {}
        self.expected: set[str] = set()  # tasks a turn is being sent to, not followed yet (expect)
        self.readers: dict[str, TaskFollower] = {}  # each running follower's reader
        self.read_paths: dict[str, dict[str, str]] = {}  # task -> path -> sha it last read/wrote
        self.workspaces: dict[str, Path] = {}
        self.summaries: dict[str, dict] = {}  # the latest durable summary read, per followed task
        self.ends_after: dict[str, int] = {}  # a follow-up's task: its ended state up to this seq is old

    def follow(
        self, service: TaskService, task_id: str, since: int = 0, announce_end: bool = True, after: int = 0
    ) -> None:
        """Send the task's events after `since` as they come, until it ends; with `after` (a
        follow-up just sent), an end at or before event `after` is the previous turn's. A task
        followed already keeps its cursor: what this client got (a `since` read elsewhere, such as
        the list of unfinished tasks at start beside a task this client just started, is older)."""
        # live: a follower whose reader still reads (its task may still be finishing the turn it
        # read to the end: a follow-up sent then needs a new reader, or its events never come)
        reader = self.readers.get(task_id)
        live = task_id in self.followers and not self.followers[task_id].done() and not (reader and reader.finished)
        if not live:
            self.cursors[task_id] = max(self.cursors.get(task_id, 0), since)
        self.ends_after[task_id] = after
        self.expected.discard(task_id)
        if live:
            if reader is not None:
                reader.after = after
            return
        self.readers[task_id] = TaskFollower(service, task_id, self.cursors[task_id], after, on_delta=self._delta)
        self.followers[task_id] = asyncio.get_running_loop().create_task(
            self._follow(service, task_id, announce_end), name=f"follow {task_id}"
        )

    async def expect(self, service: TaskService, task_id: str) -> None:
        """Before a turn is sent (a start, a follow-up): take its pushes and live text from its
        very first one. Its follower starts once the send returns and watches after its first
        read; on a loaded machine the model's text had often streamed by then, and was lost."""
        hints = await service.hints()
        self.expected.add(task_id)
        if hints is not None:
            hints.on_delta = self._delta
            hints.watch(task_id)

    def seen(self, task_id: str, seq: int) -> None:
        """The client got events up to `seq` another way (a showTask answer): don't send them again."""
        if task_id in self.followers:
            self.cursors[task_id] = max(self.cursors.get(task_id, 0), seq)
            self.readers[task_id].seen(seq)

    def stop_nowait(self) -> None:
        for t in self.followers.values():
            t.cancel()

    async def stop(self) -> None:
        for t in self.followers.values():
            t.cancel()
        await asyncio.gather(*self.followers.values(), return_exceptions=True)

    async def _follow(self, service: TaskService, task_id: str, announce_end: bool) -> None:
        """Send each page's events as the reader brings them, until the turn ends."""
        progress = Progress(self.server, task_id)
        try:
            async for page in self.readers[task_id].pages():
                summary = page.summary
                if summary:
                    self.summaries[task_id] = summary
                if summary and task_id not in self.workspaces:
                    self.workspaces[task_id] = Path(summary["workspace"]).resolve()
                    self.server.file_watch.watch(self.workspaces[task_id])
                if summary:
                    self.server.editor.offer(summary.get("editorRequest"), self.workspaces[task_id], task_id)
                public = None  # the summary the events carry, made once per page
                for event in page.events:
                    self.cursors[task_id] = event["seq"]
                    self._track_paths(task_id, event)
                    if summary and public is None:
                        public = self._public(summary)
                    self.server.protocol.notify(TASK_EVENT, event | ({"summary": public} if public else {}))
                    await progress.update(summary, event)
                if page.ended:
                    self.read_paths.pop(task_id, None)
                    await progress.end(self.summaries[task_id])
                    if announce_end:
                        self._announce(self.summaries[task_id])
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - a follower must never take the server down
            log.exception("following %s failed", task_id)

    def _public(self, summary: dict[str, Any]) -> TaskSummary:
        """The contract's TaskSummary of a durable summary, as `dals.listTasks` would give it now."""
        listing = getattr(self.server, "task_list", None)
        return cast(
            "TaskSummary", listing.public(summary) if listing is not None else public_summary(summary, None, None)
        )

    def _delta(self, task_id: str, seq: int, text: str) -> None:
        """Live text of the model response that will be event `seq` (not journaled): passed on
        while that event has not been sent yet."""
        followed = task_id in self.followers or task_id in self.expected
        if followed and seq > self.cursors.get(task_id, 0):
            self.server.protocol.notify(TASK_DELTA, {"taskId": task_id, "seq": seq, "text": text})

    def _track_paths(self, task_id: str, event: dict) -> None:
        """The disk content each file a task read or wrote had then, for the file watcher. A read
        or edit through the editor's buffer (`via: editor`) says nothing of the disk (the buffer
        may hold unsaved changes): the file is not watched until the task uses the disk again.
        The editor checks the buffer against the task's hash itself (`editor_bridge`)."""
        detail = event.get("detail") or {}
        if event["kind"] not in ("tool", "edit") or not detail.get("path") or not detail.get("sha"):
            return
        if detail.get("via") == "editor":
            self.read_paths.get(task_id, {}).pop(detail["path"], None)
        else:
            self.read_paths.setdefault(task_id, {})[detail["path"]] = detail["sha"]

    def _announce(self, summary: dict) -> None:
        status = summary["status"]
        if status == "succeeded":
            kind, text = types.MessageType.Info, f"DALS task succeeded: {summary['title']}"
        elif status == "cancelled":
            kind, text = types.MessageType.Warning, f"DALS task cancelled: {summary['title']}"
        else:
            kind, text = types.MessageType.Error, f"DALS task failed: {summary['title']}: {summary.get('error')}"
        self.server.window_show_message(types.ShowMessageParams(type=kind, message=text))


class Progress:
    """One work-done progress per task, if the client supports it; a refused token is logged."""

    def __init__(self, server, task_id: str):
        self.server = server
        self.token = f"dals-task-{task_id}"
        self.state = "new"  # new -> begun -> ended (or "off")

    def _supported(self) -> bool:
        caps = self.server.client_capabilities
        return bool(caps and caps.window and caps.window.work_done_progress)

    async def update(self, summary: dict | None, event: dict) -> None:
        if self.state == "new":
            turns = (summary or {}).get("turns", 1)
            if turns > 1:  # a follow-up's turn: a token of its own (a client keeps ended ones)
                self.token = f"{self.token}-turn{turns}"
            if not self._supported():
                self.state = "off"
                return
            try:
                await self.server.work_done_progress.create_async(self.token)
            except Exception as e:  # noqa: BLE001
                log.info("client refused progress token: %s", e)
                self.state = "off"
                return
            title = (summary or {}).get("title") or "DALS task"
            self.server.work_done_progress.begin(
                self.token, types.WorkDoneProgressBegin(title=f"DALS: {title}", message=event["title"])
            )
            self.state = "begun"
        elif self.state == "begun":
            self.server.work_done_progress.report(
                self.token, types.WorkDoneProgressReport(message=f"#{event['seq']} {event['title']}")
            )

    async def end(self, summary: dict) -> None:
        if self.state == "begun":
            self.server.work_done_progress.end(self.token, types.WorkDoneProgressEnd(message=summary["status"]))
        self.state = "ended"
