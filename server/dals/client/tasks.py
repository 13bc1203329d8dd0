"""Tasks as seen from outside the worker: start, list, show, cancel, resume, follow events.

The truth is in Restate: summaries and events in the `AgentTask` objects' state, the run's
condition (backing off, paused) in `sys_invocation`, replay counts in `TaskLedger`. This module
joins them into the contract's TaskSummary (`task_summary.py`). Used by `dals lsp` and the CLI.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import re
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..agent.deps import now_iso
from ..agent.models import context_window
from ..config import env_vars
from ..config.settings import state_dir
from ..durable.task_spec import TaskSpec
from ..durable.task_status import TERMINAL
from ..local import cancel_marks
from ..local.event_wakeups import HintListener, registry_dir, state_dir_id
from ..trust.client_keys import signing_key
from ..trust.signed_input import sign
from .failures import describe as describe_failure
from .restate_api import RestateApi, RestateUnavailable
from .task_summary import add_replayed, public_summary

SERVICE = "AgentTask"
PAGE = 500  # events per `AgentTask/events` answer
_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,80}$")


class UnknownTask(LookupError):
    pass


class NoSuchRequest(LookupError):
    """The task does not wait for this request (unknown, or already answered)."""


class WrongState(ValueError):
    """The task cannot take this now (a follow-up of a running task, a steer of a finished one)."""


TURN_HANDLERS = ("run", "follow_up")  # each turn of a task is an invocation of one of these


def new_task_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


def title_of(prompt: str) -> str:
    first = next((line.strip() for line in prompt.splitlines() if line.strip()), "task")
    return first if len(first) <= 60 else first[:57] + "…"


def build_spec(
    prompt: str,
    workspace: Path,
    model: str,
    path: str | None = None,
    range: dict[str, Any] | None = None,
    mode: str = "auto",
    commands_allow: list[str] | None = None,
    **fields: Any,
) -> TaskSpec:
    """The spec a task is started with, from the LSP or the CLI; `fields`: more of TaskSpec's.

    `path` is workspace-relative; `uri` is derived from it so both front ends send the same shape.
    `origin` (this state dir's id) lets the worker choose how the task reaches followers and
    editors (`dals.durable.side_channels`). `context` (the context window,
    `agent.models.context_window`) defaults to `DALS_CONTEXT_MAX_TOKENS`, else the model's profile.
    """
    if fields.get("context") is None:
        try:  # (main called env_vars.whole, which the typed settings replaced: same rule here)
            limit = env_vars.parse("DALS_CONTEXT_MAX_TOKENS")
        except env_vars.SettingError:
            limit = None
        fields["context"] = context_window(model, int(limit) if isinstance(limit, float) and limit >= 1000 else None)
    root = Path(workspace).resolve()
    return TaskSpec.model_validate(
        {
            "taskId": new_task_id(),
            "prompt": prompt,
            "title": title_of(prompt),
            "workspace": str(root),
            "model": model,
            "createdAt": now_iso(),
            "uri": (root / path).as_uri() if path else None,
            "path": path,
            "range": range,
            "mode": mode,
            "commandsAllow": commands_allow,
            "conversation": True,
            "origin": state_dir_id(state_dir()),
            **fields,
        }
    )


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _whole(events: list[dict]) -> list[dict]:
    """Events sorted by seq, up to the first gap (what comes after it is read again)."""
    end = next((i for i, e in enumerate(events) if e["seq"] != i + 1), len(events))
    return events[:end]


class TaskService:
    def __init__(self, api: RestateApi, key: Ed25519PrivateKey | None = None):
        """`key`: the user's client key (default: the state dir's, see dals.trust.client_keys)."""
        self.api = api
        self._key = key
        self.pending: dict[str, dict[str, Any]] = {}  # started here, not yet seen in Restate
        # started here, kept after the SQL list shows them: the `events` handler may still answer
        # "no summary" for a moment, and dals.showTask then says what the task is from this
        self.started: dict[str, dict[str, Any]] = {}
        self._hints: asyncio.Future | None = None

    async def hints(self) -> HintListener | None:
        """This process's wake-up hint listener (started on first use), or None without one."""
        if self._hints is None:
            self._hints = asyncio.get_running_loop().create_future()
            listener = HintListener(registry_dir(state_dir()))
            self._hints.set_result(listener if await listener.start() else None)
        return await asyncio.shield(self._hints)

    def close_hints(self) -> None:
        if self._hints is not None and self._hints.done() and self._hints.result() is not None:
            self._hints.result().close()

    def signed(self, purpose: str, target: str, body: Any) -> dict[str, str]:
        """`body` signed with the user's client key for one use (see dals.trust.signed_input)."""
        if self._key is None:
            self._key = signing_key(state_dir())
        return sign(self._key, purpose, target, body)

    async def start(self, spec: TaskSpec) -> str:
        task_id = spec.taskId
        body = spec.model_dump(exclude_unset=True)
        await self.api.send(SERVICE, task_id, "run", self.signed("start", task_id, body), idempotency_key=task_id)
        self.pending[task_id] = {k: body[k] for k in ("taskId", "title", "prompt", "workspace", "createdAt")} | {
            "status": "queued",
            "updatedAt": spec.createdAt,
            "steps": 0,
            "lastEvent": None,
            "usage": {"requests": 0, "inputTokens": 0, "outputTokens": 0, "toolCalls": 0},
        }
        self.started[task_id] = self.pending[task_id]
        return task_id

    async def _invocations(self, task_id: str | None = None) -> dict[str, dict]:
        where = f" AND target_service_key = {_sql_str(task_id)}" if task_id else ""
        rows = await self.api.query(
            "SELECT id, target_service_key, target_handler_name, status, last_failure, last_failure_error_code, "
            "completion_failure, created_at, idempotency_key "
            f"FROM sys_invocation WHERE target_service_name = '{SERVICE}' "
            f"AND target_handler_name IN ('run', 'follow_up'){where}"
        )
        latest: dict[str, dict] = {}
        for row in sorted(rows, key=lambda r: str(r.get("created_at"))):
            latest[row["target_service_key"]] = row
        return latest

    async def _replayed(self, task_id: str | None = None) -> dict[str, dict[str, int]]:
        """Per task: model requests answered from the journal and their tokens (TaskLedger)."""
        where = f" AND service_key = {_sql_str(task_id)}" if task_id else ""
        rows = await self.api.query(
            "SELECT service_key, key, value_utf8 FROM state WHERE service_name = 'TaskLedger' "
            f"AND key IN ('replayed', 'replayedTokens'){where}"
        )
        out: dict[str, dict[str, int]] = {}
        for row in rows:
            add_replayed(out.setdefault(row["service_key"], {}), row)
        return out

    async def list(self, statuses: list[str] | None = None) -> list[dict[str, Any]]:
        # Invocations before state: a run seen completed has written its final summary already.
        invocations = await self._invocations()
        replayed = await self._replayed()
        rows = await self.api.query(
            f"SELECT service_key, value_utf8 FROM state WHERE service_name = '{SERVICE}' AND key = 'summary'"
        )
        tasks: dict[str, dict] = {}
        for row in rows:
            try:
                summary = json.loads(row["value_utf8"])
            except (TypeError, ValueError):
                continue
            key = row["service_key"]
            tasks[key] = public_summary(summary, invocations.get(key), replayed.get(key))
        for key, spec in list(self.pending.items()):
            if key in tasks:
                del self.pending[key]
            else:
                tasks[key] = public_summary(spec, invocations.get(key), None)
        out = sorted(tasks.values(), key=lambda t: t.get("createdAt", ""), reverse=True)
        if statuses:
            out = [t for t in out if t["status"] in statuses]
        return out

    async def events_since(self, task_id: str, since: int) -> dict[str, Any]:
        """One poll: the durable summary and the events after `since`."""
        if not _KEY.match(task_id):
            raise UnknownTask(task_id)
        return await self.api.call(SERVICE, task_id, "events", since)

    async def wait_change(self, task_id: str, version: int) -> int:
        """Long-poll: returns once the task changed after feed `version` (or ~20 s passed)."""
        if not _KEY.match(task_id):
            raise UnknownTask(task_id)
        return int(await self.api.call("TaskFeed", task_id, "pull", version, timeout=30.0))

    @staticmethod
    def wakeup_of(summary: dict[str, Any] | None) -> str:
        """How the task wakes its followers, from its summary; before it has one, `hint` (the
        worker chooses when the task starts: a follower waits for a hint, at most a second, until
        the summary says)."""
        return "hint" if summary is None else summary.get("wakeup", "feed")

    async def show(self, task_id: str) -> dict[str, Any]:
        if not _KEY.match(task_id):
            raise UnknownTask(task_id)
        # Invocation before state: a run seen completed has written its final summary already.
        invocation = (await self._invocations(task_id)).get(task_id)
        # The summary from the task's own `events` handler: Restate runs it after everything the task
        # wrote before this call (a client shows a task after its events' notifications); the events
        # from one read of the state (SQL), which may not have the newest ones yet: those are paged.
        page, (events, replayed) = await asyncio.gather(self.events_since(task_id, 1 << 30), self._state(task_id))
        summary = page["summary"]
        if summary is None:
            if task_id in self.pending or task_id in self.started:
                return public_summary(self.pending.get(task_id) or self.started[task_id], None, None) | {"events": []}
            if not invocation:
                raise UnknownTask(task_id)
            # started elsewhere and not written yet: a whole (empty) summary, so that clients fold
            # the events that follow onto numbers
            stub = {
                "taskId": task_id,
                "title": task_id,
                "prompt": "",
                "status": "queued",
                "steps": 0,
                "lastSeq": 0,
                "lastEvent": None,
                "usage": {"requests": 0, "inputTokens": 0, "outputTokens": 0, "toolCalls": 0},
            }
            return public_summary(stub, None, None) | {"events": [], "invocationId": invocation["id"]}
        events = _whole([e for e in events if e["seq"] <= summary["lastSeq"]])
        while (events[-1]["seq"] if events else 0) < summary["lastSeq"]:  # not in the state read yet
            page = await self.events_since(task_id, events[-1]["seq"] if events else 0)
            if not page["events"]:
                break
            summary = page["summary"]
            events += page["events"]
        result = public_summary(summary, invocation, replayed)
        if result["status"] in ("retrying", "paused") and invocation and not result.get("lastFailure"):
            result["lastFailure"] = await self._last_error(invocation["id"])
            if failure := describe_failure(None, result["lastFailure"]):
                result["failure"], result["status"] = failure, "paused"
        result["events"] = events
        return result

    async def _state(self, task_id: str) -> tuple[builtins.list[dict[str, Any]], dict[str, int]]:
        """The task's events and its replay counts, in one read of Restate's state (SQL): a page of
        events through the `events` handler is an invocation that reads each event's state entry,
        several times slower for a long task (docs/benchmarks.md, "Conversations")."""
        rows = await self.api.query(
            f"SELECT service_name, key, value_utf8 FROM state WHERE service_key = {_sql_str(task_id)} AND "
            f"((service_name = '{SERVICE}' AND key LIKE 'event:%') OR "
            "(service_name = 'TaskLedger' AND key IN ('replayed', 'replayedTokens')))"
        )
        events: builtins.list[dict[str, Any]] = []  # (`list` alone: the method TaskService.list)
        replayed: dict[str, int] = {}
        for row in rows:
            if row["service_name"] == "TaskLedger":
                add_replayed(replayed, row)
                continue
            try:
                event = json.loads(row["value_utf8"])
            except (TypeError, ValueError):
                continue
            if isinstance(event, dict) and isinstance(event.get("seq"), int):
                events.append(event)
        events.sort(key=lambda e: e["seq"])
        return events, replayed

    async def _last_error(self, invocation_id: str) -> str | None:
        """The latest transient error Restate recorded for the invocation (why it retries/paused)."""
        rows = await self.api.query(
            f"SELECT event_json FROM sys_journal_events WHERE id = {_sql_str(invocation_id)} "
            "AND event_type = 'TransientError' ORDER BY appended_at DESC LIMIT 1"
        )
        if not rows:
            return None
        try:
            event = json.loads(rows[0]["event_json"])
        except (TypeError, ValueError):
            return None
        return f"[{event.get('error_code')}] {event.get('error_message', '')}"[:500]

    async def note_change(self, task_id: str, note: dict[str, Any]) -> None:
        """Report an outside change of a file the task has read (see dals.durable.task_notes)."""
        await self.api.send("TaskNotes", task_id, "add", note)

    async def answer(self, task_id: str, request_id: str, decision: str, comment: str | None) -> None:
        """Resolve the task's pending approval; the durable wait in the worker then goes on."""
        shown = await self.show(task_id)
        pending = shown.get("pending")
        if not pending or pending.get("requestId") != request_id:
            waiting = f"; it waits for {pending['requestId']}" if pending else "; it waits for nothing"
            raise NoSuchRequest(f"task {task_id} has no pending request {request_id!r} (already answered?){waiting}")
        answer = {"decision": decision, "comment": comment, "at": now_iso()}
        await self.api.resolve_awakeable(
            pending.get("awakeableId") or request_id, self.signed("answer", f"{task_id}/{request_id}", answer)
        )

    async def answer_editor(self, task_id: str, request_id: str, result: dict[str, Any]) -> None:
        """Answer a task's request to the editor (a buffer read, an edit applied)."""
        await self.api.resolve_awakeable(request_id, self.signed("editor", f"{task_id}/{request_id}", result))

    async def follow_up(self, task_id: str, prompt: str) -> dict[str, Any]:
        """Start the next turn of a finished task on its kept conversation; `{taskId, turn, since}`
        (`since`: the task's last event before the turn, which a follower starts after)."""
        if not _KEY.match(task_id):
            raise UnknownTask(task_id)
        invocation = (await self._invocations(task_id)).get(task_id)
        summary = (await self.events_since(task_id, 1 << 30))["summary"]
        if summary is None:
            if invocation or task_id in self.pending:
                raise WrongState(f"task {task_id} has not started yet: use dals.steer to add to it")
            raise UnknownTask(task_id)
        status = public_summary(summary, invocation, None)["status"]
        if status in TERMINAL and invocation and invocation.get("status") != "completed":
            # the turn's last write is in, and Restate shows its invocation running for a moment
            # more: a follow-up sent right after the final event waits for it, not an error
            invocation = await self._completed(task_id, invocation)
        if status not in TERMINAL or (invocation and invocation.get("status") != "completed"):
            raise WrongState(f"task {task_id} is {status}: use dals.steer to tell it something while it runs")
        if "turns" not in summary:
            raise WrongState(f"task {task_id} was started before DALS kept conversations: start a new task")
        turn = summary["turns"] + 1
        await self.api.send(
            SERVICE,
            task_id,
            "follow_up",
            self.signed("followUp", task_id, {"prompt": prompt, "turn": turn, "at": now_iso()}),
            idempotency_key=f"{task_id}.turn{turn}",
        )
        return {"taskId": task_id, "turn": turn, "since": summary["lastSeq"]}

    async def _completed(self, task_id: str, invocation: dict, wait_s: float = 5.0) -> dict:
        """The task's invocation once Restate shows it completed, or as it is after `wait_s`."""
        deadline = time.monotonic() + wait_s
        while invocation.get("status") != "completed" and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            invocation = (await self._invocations(task_id)).get(task_id) or {"status": "completed"}
        return invocation

    async def steer(self, task_id: str, message: str) -> dict[str, Any]:
        """Store a message for a running or waiting task (durably, before this returns); the task
        gives it to the model with its next request."""
        if not _KEY.match(task_id):
            raise UnknownTask(task_id)
        shown = await self.show(task_id)
        if shown["status"] in TERMINAL:
            raise WrongState(f"task {task_id} is {shown['status']}: use dals.followUp to continue its conversation")
        stored = await self.api.call(
            "TaskInbox",
            task_id,
            "add",
            self.signed("steer", task_id, {"id": secrets.token_hex(8), "text": message, "at": now_iso()}),
        )
        if isinstance(stored, dict) and stored.get("refused"):
            raise RestateUnavailable(
                f"the worker refused the message: {stored['refused']} "
                "(is this client's key the one the worker trusts? see docs/security.md)"
            )
        return {"taskId": task_id, "queued": True}

    async def _invocation_id(self, task_id: str) -> str:
        invocation = (await self._invocations(task_id)).get(task_id)
        if not invocation:
            raise UnknownTask(task_id)
        return invocation["id"]

    async def cancel(self, task_id: str) -> dict[str, Any]:
        """Cancel through the task's own `cancel` handler, which checks that the user asked. A task
        stuck on a failure no retry fixes cannot run its own cancel (every attempt fails before it
        hears it): Restate kills its invocation instead, through the admin API (which only the
        user reaches on the embedded runtime)."""
        shown = await self.show(task_id)
        stuck = shown.get("failure")
        invocation_id = await self._invocation_id(task_id)
        if stuck:
            code = await self.api.invocation_action(invocation_id, "kill")
            if code >= 400 and code != 409:
                raise RestateUnavailable(f"cancel refused by Restate ({code})")
        else:
            got = await self.api.call(
                SERVICE, task_id, "cancel", self.signed("cancel", task_id, {"invocationId": invocation_id})
            )
            if isinstance(got, dict) and got.get("refused"):
                raise RestateUnavailable(f"the worker refused the cancel: {got['refused']} (see docs/security.md)")
            if self.wakeup_of(shown) == "hint":  # its worker shares this state dir: for an attempt
                cancel_marks.mark(state_dir(), invocation_id)  # whose stream Restate has closed
        shown = await self.show(task_id)
        status = shown["status"] if shown["status"] in TERMINAL else "cancelled"
        return {"taskId": task_id, "status": status}

    async def resume(self, task_id: str) -> dict[str, Any]:
        """Retry now: wake the task's own wait after provider failures (`resume` in its summary),
        else ask Restate to resume an invocation it backs off or paused."""
        shown = await self.show(task_id)
        wait = shown.get("resume")
        if wait and shown["status"] in ("paused", "retrying"):
            await self.api.resolve_awakeable(
                wait["requestId"], self.signed("resume", f"{task_id}/{wait['requestId']}", {"at": now_iso()})
            )
            return {"taskId": task_id, "status": "running"}
        code = await self.api.invocation_action(await self._invocation_id(task_id), "resume")
        shown = await self.show(task_id)
        if code >= 400 and shown["status"] not in TERMINAL:
            raise RestateUnavailable(f"resume refused by Restate ({code})")
        status = "running" if shown["status"] in ("paused", "retrying") else shown["status"]
        return {"taskId": task_id, "status": status}
