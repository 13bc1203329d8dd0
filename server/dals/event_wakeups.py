"""Wake-up hints: how a follower learns that a task changed without polling Restate and without
a Restate invocation per event.

Events stay where they are, in the task object's state in Restate (a view of the journal,
Guarantee 4). A hint carries no content: a task id and the summary's revision number (`rev`, one
more at every summary write). After writing a task's summary, the worker sends one UDP datagram
on loopback to each registered listener; a listener (`dals lsp`, `dals run`) then reads the
events from Restate as before. Listeners register as empty files `<pid>-<port>` in
`$DALS_STATE_DIR/wakeups/` and remove them when they close.

A hint is only "look now". It can be lost (a full socket buffer, a worker on another machine),
early (sent before Restate applied the write: the follower re-reads a few times, briefly, until
the revision shows) or stale (a replay writes the same revisions again: the worker sends none
while replaying). So followers still look every `SAFETY_POLL_S` without one.

Which tasks use hints is decided when a task starts (`TaskSpec.wakeup`), since it changes what
the task journals: tasks started before hints existed keep publishing to `TaskFeed`.
"""
from __future__ import annotations

import asyncio
import atexit
import logging
import os
import socket
import time
from pathlib import Path

from .runtime.children import pid_alive

log = logging.getLogger("dals.wakeups")

REGISTRY = "wakeups"
SAFETY_POLL_S = 1.0
# How long a follower keeps re-reading when a hint is ahead of what Restate shows (sum ~0.4 s).
EARLY_HINT_BACKOFF_S = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2)
# A hint comes as the worker hands the write to Restate, a few ms before Restate has applied it;
# reads this soon after a hint mostly came back empty (docs/benchmarks.md, "Hints after the SDK's flush").
APPLY_WAIT_S = 0.005
MAX_DATAGRAM = 200
# The sender reads the registry again when its mtime changes, and at least this often: two
# registrations within one timestamp tick (a few ms) leave the mtime unchanged.
REGISTRY_REFRESH_S = 1.0


def registry_dir(state: Path) -> Path:
    return state / REGISTRY


def _entries(directory: Path) -> list[tuple[str, int, int]]:
    """(file name, pid, port) of every registration file."""
    out = []
    try:
        names = os.listdir(directory)
    except OSError:
        return out
    for name in names:
        pid, _, port = name.partition("-")
        if pid.isdigit() and port.isdigit():
            out.append((name, int(pid), int(port)))
    return out


class HintSender:
    """The worker's side: one datagram per summary write to every live listener."""

    def __init__(self, directory: Path):
        self.directory = directory
        self._seen_mtime: int | None = None
        self._read_at = 0.0
        self._ports: list[int] = []
        self._sock: socket.socket | None = None

    def _targets(self) -> list[int]:
        try:
            mtime = os.stat(self.directory).st_mtime_ns
        except OSError:
            self._seen_mtime, self._ports = None, []
            return self._ports
        now = time.monotonic()
        if mtime != self._seen_mtime or now - self._read_at > REGISTRY_REFRESH_S:
            self._seen_mtime, self._read_at = mtime, now
            self._ports = [port for _, pid, port in _entries(self.directory) if pid_alive(pid)]
        return self._ports

    def send(self, task_id: str, rev: int) -> None:
        ports = self._targets()
        if not ports:
            return
        if self._sock is None:
            self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._sock.setblocking(False)
        data = f"{task_id} {rev}".encode()
        for port in ports:
            try:
                self._sock.sendto(data, ("127.0.0.1", port))
            except OSError:
                pass  # a hint is best effort: the follower's safety poll covers it


_sender: HintSender | None = None


def sender() -> HintSender:
    """The process's sender, for the state dir of this worker's runtime (`DALS_STATE_DIR`)."""
    global _sender
    if _sender is None:
        from .settings import state_dir

        _sender = HintSender(registry_dir(state_dir()))
    return _sender


class HintListener(asyncio.DatagramProtocol):
    """A follower's side: the latest hinted revision per task, and a way to wait for a newer one."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.revs: dict[str, int] = {}
        self.arrived: dict[str, float] = {}  # monotonic time of the latest hint, per task
        self._changed: dict[str, asyncio.Event] = {}
        self._transport: asyncio.DatagramTransport | None = None
        self._file: Path | None = None

    async def start(self) -> bool:
        """Bind a loopback port and register it; False (and no hints, only safety polls) if that fails."""
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            for name, pid, _ in _entries(self.directory):
                if not pid_alive(pid):  # left by a listener killed without closing
                    (self.directory / name).unlink(missing_ok=True)
            loop = asyncio.get_running_loop()
            self._transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=("127.0.0.1", 0))
            sock = self._transport.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            port = sock.getsockname()[1]
            self._file = self.directory / f"{os.getpid()}-{port}"
            self._file.touch()
            atexit.register(self._unregister)
        except OSError as e:
            log.warning("no wake-up hints (events arrive by polling every %.0f s): %s", SAFETY_POLL_S, e)
            self.close()
            return False
        return True

    def _unregister(self) -> None:
        if self._file is not None:
            self._file.unlink(missing_ok=True)
            self._file = None

    def close(self) -> None:
        self._unregister()
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    @property
    def active(self) -> bool:
        return self._transport is not None

    def datagram_received(self, data: bytes, addr) -> None:
        if len(data) > MAX_DATAGRAM:
            return
        task_id, _, rev = data.decode("ascii", errors="replace").partition(" ")
        if not rev.isdigit():
            return
        self.revs[task_id] = max(int(rev), self.revs.get(task_id, 0))
        self.arrived[task_id] = time.monotonic()
        # Every hint wakes, even one that is not newer: after a crash, the worker writes again a
        # revision whose first hint came before the write was lost.
        event = self._changed.pop(task_id, None)
        if event is not None:
            event.set()

    def latest(self, task_id: str) -> int:
        return self.revs.get(task_id, 0)

    async def settle(self, task_id: str) -> None:
        """Until `APPLY_WAIT_S` after the task's latest hint came: a read sooner mostly finds the
        hinted write not applied yet, and costs a Restate invocation for nothing."""
        wait = self.arrived.get(task_id, 0.0) + APPLY_WAIT_S - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)

    async def wait(self, task_id: str, after: int, timeout: float) -> bool:
        """True as soon as a hint for the task comes (at once if one newer than revision `after`
        came already); False at timeout."""
        if self.latest(task_id) > after:
            return True
        event = self._changed.setdefault(task_id, asyncio.Event())
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            return self.latest(task_id) > after
        return True

    def forget(self, task_id: str) -> None:
        """The task is no longer followed."""
        self.revs.pop(task_id, None)
        self.arrived.pop(task_id, None)
        event = self._changed.pop(task_id, None)
        if event is not None:
            event.set()


class ReadPacer:
    """When a follower of a `hint` task reads the task's events again, given what it just read.

    - The read brought something (the summary's `rev` went up) and a newer hint is in: read again
      at once; the hint is for a write made while reading.
    - A newer hint is in but the read brought nothing: Restate has not applied the write yet;
      read again after 2, 5, 10 … 200 ms.
    - Otherwise (or once that backoff is spent: the hinted write died with a crash) wait for the
      next hint, at most `SAFETY_POLL_S`.
    A read for a hint is never sooner than `APPLY_WAIT_S` after the hint came.
    """

    def __init__(self, hints: HintListener, task_id: str):
        self.hints = hints
        self.task_id = task_id
        self.seen_rev = 0
        self.early = 0  # re-reads in a row for a hint ahead of what Restate shows
        self.early_reads = 0  # in all (benchmarks report it)

    async def before_next_read(self, rev: int) -> None:
        hinted = self.hints.latest(self.task_id)
        if rev > self.seen_rev:
            self.seen_rev, self.early = rev, 0
            if hinted > rev:
                await self.hints.settle(self.task_id)
                return
        if hinted > rev and self.early < len(EARLY_HINT_BACKOFF_S):
            await asyncio.sleep(EARLY_HINT_BACKOFF_S[self.early])
            self.early += 1
            self.early_reads += 1
            return
        after = max(rev, hinted) if self.early else rev
        self.early = 0
        if await self.hints.wait(self.task_id, after, SAFETY_POLL_S):
            await self.hints.settle(self.task_id)
