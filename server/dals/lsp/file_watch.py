"""Watches the workspaces of followed tasks (watchfiles, plus the client's
`workspace/didChangeWatchedFiles` where it sends them). A change to a file a running task has read,
made by someone else, is reported to the task (`TaskNotes`): the task logs it as an event and
refuses a stale edit of that file until it reads it again.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from watchfiles import Change, DefaultFilter, awatch

from ..agent.deps import now_iso
from ..client.restate_api import RestateUnavailable
from ..workspace.confine import is_inside
from ..workspace.files import file_hash
from ..workspace.listing import is_ignored

log = logging.getLogger("dals.lsp.watch")
SWEEP_S = 2.0


class FileWatch:
    def __init__(self, server):
        self.server = server
        self.watchers: dict[Path, asyncio.Task] = {}
        self.stop_event = asyncio.Event()
        self.reported: dict[tuple[str, str], str | None] = {}  # (task, path) -> sha last reported
        self.sweepers: dict[Path, asyncio.Task] = {}

    def watch(self, root: Path) -> None:
        root = root.resolve()
        if root in self.watchers or not root.is_dir():
            return
        loop = asyncio.get_running_loop()
        self.watchers[root] = loop.create_task(self._loop(root), name=f"watch {root}")
        self.sweepers[root] = loop.create_task(self._sweep(root), name=f"sweep {root}")

    def stop_nowait(self) -> None:
        self.stop_event.set()
        for t in [*self.watchers.values(), *self.sweepers.values()]:
            t.cancel()

    async def stop(self) -> None:
        self.stop_nowait()
        await asyncio.gather(*self.watchers.values(), *self.sweepers.values(), return_exceptions=True)

    async def _sweep(self, root: Path) -> None:
        """A safety net under the watcher: every few seconds, re-hash just the files running tasks
        have read. Catches changes made before the watcher was up, and filesystems without
        inotify; `changed` reports each new content once."""
        stream = self.server.stream
        while not self.stop_event.is_set():
            await asyncio.sleep(SWEEP_S)
            # each path once, however many tasks read it (`changed` tells them all)
            rels = {
                rel
                for task_id, seen in list(stream.read_paths.items())
                if stream.workspaces.get(task_id) == root
                for rel in list(seen)
            }
            for rel in sorted(rels):
                path = root / rel
                await self.changed(root, path, "modified" if path.exists() else "deleted")

    async def _loop(self, root: Path) -> None:
        base = DefaultFilter()

        def keep(change: Change, path: str) -> bool:
            if not base(change, path):
                return False
            p = Path(path)
            return is_inside(root, p) and not is_ignored(root, p.relative_to(root).as_posix())

        try:
            async for changes in awatch(
                root, watch_filter=keep, debounce=50, step=20, stop_event=self.stop_event, recursive=True
            ):
                for change, path in changes:
                    await self.changed(root, Path(path), "deleted" if change == Change.deleted else "modified")
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - a watcher must never take the server down
            log.exception("watching %s failed", root)

    async def changed(self, root: Path, path: Path, change: str) -> None:
        """`path` (absolute) changed on disk: tell each running task that read it, once per content."""
        stream = self.server.stream
        try:
            rel = path.resolve().relative_to(root).as_posix() if path.is_absolute() else path.as_posix()
        except ValueError:
            return
        now: str | None = None
        hashed = change == "deleted"
        for task_id, seen in list(stream.read_paths.items()):
            if stream.workspaces.get(task_id) != root or rel not in seen:
                continue
            if not hashed:  # once per change, not once per task that read the file
                now, hashed = await asyncio.to_thread(file_hash, root, rel), True
            if now == seen[rel] or self.reported.get((task_id, rel), "-") == now:
                continue
            self.reported[(task_id, rel)] = now
            try:
                service = await self.server.task_service()
                await service.note_change(task_id, {"path": rel, "sha": now, "change": change, "at": now_iso()})
            except (RestateUnavailable, Exception) as e:  # noqa: BLE001
                log.warning("could not report a change of %s to task %s: %s", rel, task_id, e)

    async def client_changes(self, params) -> None:
        """`workspace/didChangeWatchedFiles` from the client: same handling as our own watcher."""
        from pygls.uris import to_fs_path

        for event in params.changes:
            path = Path(to_fs_path(event.uri) or "")
            for root in self.watchers:
                if is_inside(root, path):
                    await self.changed(root, path, "deleted" if int(event.type) == 3 else "modified")
