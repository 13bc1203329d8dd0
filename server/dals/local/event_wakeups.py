"""Wake-up hints: how a follower learns that a task changed without polling Restate and without
a Restate invocation per event.

Events stay where they are, in the task object's state in Restate (a view of the journal,
Guarantee 4). After writing a task's summary, the worker sends one UDP datagram on loopback to
each registered listener (`dals lsp`, `dals run`): the task id and the summary's revision (`rev`,
one more at every summary write). Listeners register as files `<pid>-<port>` in
`$DALS_STATE_DIR/wakeups/` and remove them when they close.

A listener's file says `push <token>`: it also gets the write itself in the datagram (a "push"): the
summary as written (less the prompt) and the events written since the previous push, with the
revision they continue from. These are the values the worker has just handed to Restate, each
written after the journaled step it describes and computed from journaled data only
(`durable/task_record.py`): if a crash loses the write before Restate stores it, the replay writes
the same values again under the same `seq`. A follower uses a push instead of a read when it
continues exactly what the follower has (`ReadPacer.pushed_page`); anything else (a lost or
oversized datagram, a restart, a gap) is read from Restate as before. The token (random per
listener, in a file only the user can read) is in every push: a datagram without it is taken as a
plain hint, so nobody else on the machine can make a follower show an event.

A plain hint is only "look now". It can be lost (a full socket buffer, a worker on another
machine), early (sent before Restate applied the write: the follower re-reads a few times, briefly,
until the revision shows) or stale (a replay writes the same revisions again: the worker sends
none while replaying). So followers still look every `SAFETY_POLL_S` without one.

A listener also gets the live text of a model response in flight (a "delta",
`<task> delta <token> {"seq", "text"}`): not journaled, shown while the request runs, replaced by
the journaled event that follows (`dals/taskDelta`). A plain listener ignores it.

Which tasks use hints is decided when a task starts (`TaskSpec.wakeup`), since it changes what
the task journals: tasks started before hints existed keep publishing to `TaskFeed`.
"""

from __future__ import annotations

import asyncio
import atexit
import hmac
import json
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .once_files import first_written
from .pids import pid_alive

log = logging.getLogger("dals.wakeups")

REGISTRY = "wakeups"
SAFETY_POLL_S = 1.0
# How long a follower keeps re-reading when a hint is ahead of what Restate shows (sum ~0.4 s).
EARLY_HINT_BACKOFF_S = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2)
# A hint comes as the worker hands the write to Restate, a few ms before Restate has applied it;
# reads this soon after a hint mostly came back empty (docs/benchmarks.md, "Hints after the SDK's flush").
APPLY_WAIT_S = 0.005
# A push larger than this goes as a plain hint (the follower reads); loopback UDP allows 65,507.
MAX_DATAGRAM = 60_000
DELTA = b"delta"  # in place of a revision: live model text (see send_delta)
PUSH = b"push"  # a listener that takes pushes writes `push <token>` in its registration file
PUSH_KEEP = 256  # pushes kept per followed task until its follower takes them
# The sender reads the registry again when its mtime changes, and at least this often: two
# registrations within one timestamp tick (a few ms) leave the mtime unchanged.
REGISTRY_REFRESH_S = 1.0


def registry_dir(state: Path) -> Path:
    return state / REGISTRY


STATE_ID = "state-id"  # a random id of the state dir: a worker that finds the same one shares it


def state_dir_id(state: Path, create: bool = True) -> str | None:
    """The state dir's id (made on first use when `create`): a front end puts it in a task's spec
    (`origin`), and the worker compares it with its own to know whether the task's followers and
    editors share its state dir (so the wake-ups and the editor registry here reach them)."""
    path = state / STATE_ID
    try:
        return path.read_text().strip() or None
    except OSError:
        if not create:
            return None
    state.mkdir(parents=True, exist_ok=True)
    return first_written(path, secrets.token_hex(16).encode()).decode().strip()


def _entries(directory: Path) -> list[tuple[str, int, int]]:
    """(file name, pid, port) of every registration file (temporary `.tmp` names are not)."""
    out: list[tuple[str, int, int]] = []
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
        self._ports: list[tuple[int, bytes | None]] = []  # (port, push token of its listener)
        self._sock: socket.socket | None = None

    def _targets(self) -> list[tuple[int, bytes | None]]:
        try:
            mtime = os.stat(self.directory).st_mtime_ns
        except OSError:
            self._seen_mtime, self._ports = None, []
            return self._ports
        now = time.monotonic()
        if mtime != self._seen_mtime or now - self._read_at > REGISTRY_REFRESH_S:
            self._seen_mtime, self._read_at = mtime, now
            self._ports = [
                (port, _push_token(self.directory / name))
                for name, pid, port in _entries(self.directory)
                if pid_alive(pid)
            ]
        return self._ports

    def send(self, task_id: str, rev: int, push: Callable[[], bytes | None] | None = None) -> None:
        """A hint for revision `rev` of the task; to listeners that take them, the write itself
        (`push()`, JSON, built only if one does) when it fits in a datagram."""
        ports = self._targets()
        if not ports:
            return
        if self._sock is None:
            self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._sock.setblocking(False)
        plain = f"{task_id} {rev}".encode()
        body = push() if push is not None and any(token for _, token in ports) else None
        for port, token in ports:
            data = plain
            if token and body is not None and len(plain) + len(token) + len(body) + 2 <= MAX_DATAGRAM:
                data = b" ".join((plain, token, body))
            try:
                self._sock.sendto(data, ("127.0.0.1", port))
            except OSError:
                pass  # a hint is best effort: the follower's safety poll covers it

    def send_delta(self, task_id: str, seq: int, text: str) -> None:
        """Live text of the model response that will be event `seq`, to listeners that take pushes."""
        ports = [(port, token) for port, token in self._targets() if token]
        if not ports or not text:
            return
        if self._sock is None:
            self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._sock.setblocking(False)
        body = json.dumps({"seq": seq, "text": text[: MAX_DATAGRAM // 8]}, ensure_ascii=False).encode()
        for port, token in ports:
            try:
                self._sock.sendto(b" ".join((task_id.encode(), DELTA, token, body)), ("127.0.0.1", port))
            except OSError:
                pass  # best effort: the journaled event brings the text anyway


def _push_token(registration: Path) -> bytes | None:
    """The listener's token if it takes pushes (its file says `push <token>`), else None."""
    try:
        words = registration.read_bytes().split()
    except OSError:
        return None
    return words[1] if len(words) == 2 and words[0] == PUSH else None


def push_body(since_rev: int, summary: dict[str, Any], events: list[dict[str, Any]]) -> bytes:
    """A push: the summary as written at its `rev` (less the prompt, which never changes) and the
    events written after revision `since_rev`."""
    shown = {k: v for k, v in summary.items() if k != "prompt"}
    return json.dumps(
        {"since": since_rev, "summary": shown, "events": events}, separators=(",", ":"), ensure_ascii=False
    ).encode()


_sender: HintSender | None = None


def sender() -> HintSender:
    """The process's sender, for the state dir of this worker's runtime (`DALS_STATE_DIR`)."""
    global _sender
    if _sender is None:
        from ..config.settings import state_dir

        _sender = HintSender(registry_dir(state_dir()))
    return _sender


class HintListener(asyncio.DatagramProtocol):
    """A follower's side: the latest hinted revision per task, a way to wait for a newer one, and
    the pushes for the tasks it follows (`watch`) until their followers take them."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.revs: dict[str, int] = {}
        self.arrived: dict[str, float] = {}  # monotonic time of the latest hint, per task
        self.pushes: dict[str, list[tuple[int, int, dict[str, Any]]]] = {}  # task -> [(since, rev, body)]
        self._changed: dict[str, asyncio.Event] = {}
        self._transport: asyncio.DatagramTransport | None = None
        self._file: Path | None = None
        self._token = secrets.token_hex(16).encode()  # pushes without it are plain hints
        self.on_delta: Callable[[str, int, str], None] | None = None  # (task, seq, text) of watched tasks

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
            staged = self._file.with_name(self._file.name + ".tmp")  # not a registration (see _entries)
            staged.write_bytes(PUSH + b" " + self._token)
            os.chmod(staged, 0o600)
            os.replace(staged, self._file)  # a sender never sees it without its token
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
        parts = data.split(b" ", 3)  # task id, rev[, token, push]
        task_id = parts[0].decode("ascii", errors="replace")
        if len(parts) == 4 and parts[1] == DELTA:
            self._delta(task_id, parts[2], parts[3])
            return
        rev = parts[1].decode("ascii", errors="replace") if len(parts) > 1 else ""
        if not rev.isdigit() or len(rev) > 18 or not task_id:
            return
        if len(parts) == 4 and task_id in self.pushes and hmac.compare_digest(parts[2], self._token):
            self._keep_push(task_id, int(rev), parts[3])
        self.revs[task_id] = max(int(rev), self.revs.get(task_id, 0))
        self.arrived[task_id] = time.monotonic()
        # Every hint wakes, even one that is not newer: after a crash, the worker writes again a
        # revision whose first hint came before the write was lost.
        event = self._changed.pop(task_id, None)
        if event is not None:
            event.set()

    def _delta(self, task_id: str, token: bytes, raw: bytes) -> None:
        if self.on_delta is None or task_id not in self.pushes or not hmac.compare_digest(token, self._token):
            return
        try:
            body = json.loads(raw)
            seq, text = body["seq"], body["text"]
        except (ValueError, KeyError, TypeError):
            return
        if isinstance(seq, int) and isinstance(text, str):
            self.on_delta(task_id, seq, text)

    def _keep_push(self, task_id: str, rev: int, raw: bytes) -> None:
        try:
            body = json.loads(raw)
            since = body["since"]
            if not (
                isinstance(since, int)
                and 0 <= since < rev
                and isinstance(body["summary"], dict)
                and isinstance(body["events"], list)
                and body["summary"].get("rev") == rev
            ):
                return
        except (ValueError, KeyError, TypeError):
            return  # a malformed push is a plain hint: the follower reads
        kept = self.pushes[task_id]
        kept.append((since, rev, body))
        del kept[:-PUSH_KEEP]

    def watch(self, task_id: str) -> None:
        """Keep the pushes for this task from now on (until `forget`)."""
        self.pushes.setdefault(task_id, [])

    def take_pushes(self, task_id: str) -> list[tuple[int, int, dict[str, Any]]]:
        kept = self.pushes.get(task_id)
        if not kept:
            return []
        self.pushes[task_id] = []
        return kept

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
        self.pushes.pop(task_id, None)
        event = self._changed.pop(task_id, None)
        if event is not None:
            event.set()


class ReadPacer:
    """When a follower of a `hint` task reads the task's events again, given what it just read.

    - A push continues what the follower has: no read at all, the loop takes `pushed_page()`.
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
        self.pushed_pages = 0  # pages taken from pushes instead of reads
        hints.watch(task_id)

    def _push_ready(self) -> bool:
        kept = self.hints.pushes.get(self.task_id, ())
        return any(since <= self.seen_rev < rev for since, rev, _ in kept)

    def pushed_page(self, summary: dict[str, Any] | None) -> dict[str, Any] | None:
        """The pushes that continue revision `seen_rev`, as one page like a read's: the latest
        summary (over `summary`, the last one the follower has, for the prompt) and the events.
        None when none does (nothing new, or a gap: then the follower reads)."""
        if not summary:
            return None
        kept = sorted(self.hints.take_pushes(self.task_id), key=lambda push: push[1])
        at, latest, events = self.seen_rev, None, []
        for i, (since, rev, body) in enumerate(kept):
            if rev <= at:
                continue
            if since > at:  # a push is missing: keep the rest for after the read
                self.hints.pushes.setdefault(self.task_id, [])[:0] = kept[i:]
                break
            at, latest = rev, body["summary"]
            events.extend(body["events"])
        if latest is None:
            return None
        self.seen_rev, self.early = at, 0
        self.pushed_pages += 1
        return {"summary": {**summary, **latest}, "events": events}

    async def before_next_read(self, rev: int) -> None:
        hinted = self.hints.latest(self.task_id)
        progressed = rev > self.seen_rev
        if progressed:
            self.seen_rev, self.early = rev, 0
        if self._push_ready():
            self.early = 0
            return
        if progressed and hinted > rev:
            await self.hints.settle(self.task_id)
            return
        if hinted > rev and self.early < len(EARLY_HINT_BACKOFF_S):
            await asyncio.sleep(EARLY_HINT_BACKOFF_S[self.early])
            self.early += 1
            self.early_reads += 1
            return
        after = max(rev, hinted) if self.early else rev
        self.early = 0
        if await self.hints.wait(self.task_id, after, SAFETY_POLL_S) and not self._push_ready():
            await self.hints.settle(self.task_id)
