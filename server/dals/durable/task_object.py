"""The durable task: one Restate VirtualObject `AgentTask` per task, keyed by task id.

`run` (exclusive) runs the pydantic-ai agent with its model wrapped by `JournaledModel` and its
tools stepping through `JournalRunner`: every model request and tool call is a journaled step, so
a crash resumes from the journal. `events` (shared) reads the summary and events while `run` is
going. A VirtualObject rather than a Workflow: Restate can restart an ended VirtualObject
invocation from a journal index (rewind), not a Workflow.
"""
from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import restate
from pydantic_ai.exceptions import AgentRunError, UserError
from pydantic_ai.usage import UsageLimits
from restate import ObjectContext, ObjectSharedContext, RunOptions, TerminalError
from restate.serde import JsonSerde

from ..agent.coder import build_agent
from ..agent.deps import TaskDeps
from ..agent.models import ModelConfigError, resolve_model
from ..agent.policy import DEFAULT_ALLOW
from .. import cancel_marks, editor_presence
from ..settings import state_dir
from ..workspace.confine import workspace_key
from .journaled_model import JournaledModel
from .model_events import CountingModel, ModelEvents
from .model_retry import ModelRetries
from .editor_sessions import lookup as editor_lookup
from . import eager_steps
from .task_notes import read_since as notes_read_since
from .task_notes import since as notes_since
from .task_record import SUMMARY, TERMINAL, TaskRecord, event_key
from .task_spec import TaskSpec, task_prompt

log = restate.getLogger("dals.task")

# Failures outside model requests (a tool step's unexpected exception, a worker that keeps dying):
# short backoff, then pause (resumable) rather than fail. Provider failures of model requests are
# retried in the handler instead, with events (model_retry.py). `DALS_TASK_MAX_ATTEMPTS` is read
# when the worker registers (Restate keeps service options from registration).
RETRY = restate.InvocationRetryPolicy(
    initial_interval=timedelta(milliseconds=200), exponentiation_factor=2.0,
    max_interval=timedelta(seconds=5), max_attempts=int(os.environ.get("DALS_TASK_MAX_ATTEMPTS", "12")),
    on_max_attempts="pause",
)

# Test-only: DALS_FORCE_REPLAY=1 makes every task suspend after each step and replay its journal
# on the next (Restate's inactivity timeout 0), so any non-determinism in the handler shows up.
FORCE_REPLAY = os.environ.get("DALS_FORCE_REPLAY") == "1"

agent_task = restate.VirtualObject(
    "AgentTask",
    description="One DALS agent task: a durable pydantic-ai run.",
    invocation_retry_policy=RETRY,
    # Slow model calls and long commands are single steps: don't abort them while they work.
    inactivity_timeout=timedelta(0) if FORCE_REPLAY else timedelta(minutes=15),
    abort_timeout=timedelta(minutes=45),
)

EDITOR_WAIT = timedelta(seconds=15)  # an attached editor answers in milliseconds; silence = gone
# Per provider attempt, inside the journaled step (the SDK's own timeout; a hung request fails and
# is retried by Restate, then the task pauses). Below the service's inactivity + abort timeouts.
MODEL_TIMEOUT_S = float(os.environ.get("DALS_MODEL_TIMEOUT_S", "600"))

# A tool step's result is a JSON object: its serde is fixed here, not worked out from the action's
# signature on every step (as restate-sdk does for its default serde).
STEP_OPTIONS = RunOptions(serde=JsonSerde())

task_ledger = restate.VirtualObject("TaskLedger", description="Non-journal counters of a task (replays).")


class JournalRunner:
    """The agent's StepRunner on Restate: steps are journaled through `run_step` (an eager step's
    `run`, or `ctx.run_typed`), events go to the record."""

    def __init__(self, ctx: ObjectContext, record: TaskRecord, spec: TaskSpec, run_step):
        self.ctx = ctx
        self.run_step = run_step  # the same one the model's steps use (chosen once in `_run`)
        self.record = record
        self.task_id = spec.taskId
        self.editor_key = workspace_key(Path(spec.workspace)) if spec.editor else None
        self.local_editors = spec.editorLookup == "local"
        self.approval_timeout = timedelta(seconds=spec.approvalTimeoutS) if spec.approvalTimeoutS else None
        self.notes_cursor = 0
        self.notes_by_step = spec.notesRead == "step"

    async def editor_for(self, path):
        """The live editor session that has `path` open (journaled), or None."""
        if not self.editor_key:
            return None
        if not self.local_editors:
            return await self.ctx.object_call(editor_lookup, key=self.editor_key, arg=path)
        workspace = self.editor_key

        async def look() -> str | None:
            return editor_presence.lookup(editor_presence.registry_dir(state_dir()), workspace, path, time.time())

        return await self.ctx.run_typed(f"editor for {path}", look)

    async def editor(self, request):
        """A request the attached editor answers (read its buffer, apply an edit); None when no
        answer comes in time (the editor went away): the caller then uses the disk."""
        request_id, answer = self.ctx.awakeable(type_hint=dict)
        self.record.editor_request({"requestId": request_id, **request})
        match await restate.select(answer=answer, timeout=self.ctx.sleep(EDITOR_WAIT)):
            case ["answer", result]:
                outcome = result if isinstance(result, dict) else None
            case _:
                outcome = None
        self.record.editor_request(None)
        return outcome

    async def changes(self):
        """Outside changes reported since the last look (a journaled call: replays see the same)."""
        if self.notes_by_step:
            cursor = self.notes_cursor

            async def read() -> dict[str, Any]:
                return await notes_read_since(self.task_id, cursor)

            got = await self.run_step("notes since", read, STEP_OPTIONS)
        else:
            got = await self.ctx.object_call(notes_since, key=self.task_id, arg=self.notes_cursor)
        self.notes_cursor = got["cursor"]
        return got["notes"]

    async def step(self, name, fn):
        async def action() -> dict[str, Any]:  # run_typed needs a coroutine function
            return await fn()

        return await self.run_step(name, action, STEP_OPTIONS)

    def event(self, kind, title, detail, at):
        self.record.tool_step(kind, title, at, detail)

    async def ask(self, request):
        """A durable wait for the user's answer: a Restate awakeable, resolved by `dals.answer`
        (through the ingress) even across restarts of every process."""
        request_id, answer = self.ctx.awakeable(type_hint=dict)
        self.record.ask(request_id, request, _iso(await self.ctx.time()))
        if self.approval_timeout:
            match await restate.select(answer=answer, timeout=self.ctx.sleep(self.approval_timeout)):
                case ["answer", decision]:
                    pass
                case _:
                    secs = int(self.approval_timeout.total_seconds())
                    decision = {"decision": "reject", "comment": f"no answer within {secs} s (approval timeout)"}
        else:
            decision = await answer
        if not isinstance(decision, dict) or decision.get("decision") not in ("approve", "reject"):
            decision = {"decision": "reject", "comment": "malformed answer"}
        self.record.answered(request_id, decision, _iso(await self.ctx.time()))
        return decision


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def _now(ctx: ObjectContext) -> str:
    return _iso(await ctx.time())


_background: set[asyncio.Task] = set()


def _spawn(coro) -> None:
    """Fire and forget, but keep a reference: asyncio only holds tasks weakly."""
    task = asyncio.get_running_loop().create_task(coro)
    _background.add(task)
    task.add_done_callback(_background.discard)


_ledger_http: httpx.AsyncClient | None = None


async def _report_replayed(task_id: str, replayed: dict[str, int]) -> None:
    """Replays are not part of the journal (a replay is the journal read again), so they are
    counted beside it: a one-way call to TaskLedger, outside the durable context."""
    global _ledger_http
    ingress = os.environ.get("DALS_INGRESS_URL")
    if not ingress or replayed.get("requests", 0) <= 0:
        return
    if _ledger_http is None:
        # one client for the process: a new one per report loaded the CA bundle (0.05-0.35 s of
        # CPU) on the worker's event loop after every attempt that replayed something
        _ledger_http = httpx.AsyncClient(timeout=5.0, verify=ingress.startswith("https:"))
    try:
        await _ledger_http.post(f"{ingress}/TaskLedger/{task_id}/add_replayed/send", json=replayed,
                                headers={"idempotency-key": uuid.uuid4().hex})
    except httpx.HTTPError as e:
        logging.getLogger("dals.task").warning("could not record replays %s: %s", replayed, e)


@agent_task.handler()
async def run(ctx: ObjectContext, spec: TaskSpec) -> dict[str, Any]:
    steps = eager_steps.install(ctx)
    try:
        return await _run(ctx, spec, steps)
    finally:
        if steps:  # every way out awaits ctx.time() first, which waits for the acknowledgement;
            steps.cancel()  # this only stops the wait when the attempt ends on an exception


async def _run(ctx: ObjectContext, spec: TaskSpec, steps: eager_steps.EagerSteps | None) -> dict[str, Any]:
    record = TaskRecord(ctx, spec.model_dump())
    try:
        status, outcome = await _work(ctx, spec, steps, record)
        at = _iso(await ctx.time())  # a cancel kept from the last step comes here (eager_steps)
    except TerminalError as e:
        if e.status_code != eager_steps.CANCELLED:
            raise
        # Cancelled (dals.cancelTask, through the admin API), wherever the handler was: Restate
        # raises it once, so this wait goes on, and the attempt and its replays all come here.
        record.finish("cancelled", _iso(await ctx.time()))
        cancel_marks.clear(state_dir(), ctx.request().id)  # outside the journal: idempotent
        raise
    record.finish(status, at, **outcome)
    return record.summary


async def _work(ctx: ObjectContext, spec: TaskSpec, steps: eager_steps.EagerSteps | None,
                record: TaskRecord) -> tuple[str, dict[str, str]]:
    """Run the agent: ("succeeded", {result}) or ("failed", {error}); a cancel raises."""
    record.emit("status", "Task started", _iso(await ctx.time()), {"model": spec.model}, status="running")
    try:
        model = CountingModel(resolve_model(spec.model))
    except ModelConfigError as e:
        return "failed", {"error": str(e)}
    events = ModelEvents(record, model, report=lambda n: _spawn(_report_replayed(spec.taskId, n)))
    retries = ModelRetries(ctx, record, now=lambda: _now(ctx))
    run_step = steps.run if steps else ctx.run_typed
    # one attempt per journaled model step: a failure is journaled at once, and ModelRetries decides
    agent = build_agent(JournaledModel(model, run_step, RunOptions(max_attempts=1)))
    deps = TaskDeps(root=Path(spec.workspace), runner=JournalRunner(ctx, record, spec, run_step), mode=spec.mode,
                    commands_allow=spec.commandsAllow if spec.commandsAllow is not None else list(DEFAULT_ALLOW))
    try:
        try:
            result = await agent.run(task_prompt(spec), deps=deps, capabilities=[events, retries],
                                       usage_limits=UsageLimits(request_limit=spec.requestLimit),
                                       model_settings={"timeout": MODEL_TIMEOUT_S})
        finally:
            events.flush()
    except TerminalError as e:
        if e.status_code == eager_steps.CANCELLED:
            raise
        return "failed", {"error": e.message}
    except (AgentRunError, UserError) as e:
        return "failed", {"error": f"{type(e).__name__}: {e}"}
    return "succeeded", {"result": str(result.output)}


@agent_task.handler(kind="shared", journal_retention=timedelta(0), idempotency_retention=timedelta(0))
async def events(ctx: ObjectSharedContext, since: int = 0) -> dict[str, Any]:
    """The summary and the events after `since` (at most 500): what clients poll."""
    summary = await ctx.get(SUMMARY)
    if not summary:
        return {"summary": None, "events": []}
    last = min(summary["lastSeq"], since + 500)
    found = [await ctx.get(event_key(seq)) for seq in range(since + 1, last + 1)]
    return {"summary": summary, "events": [e for e in found if e]}


@task_ledger.handler()
async def add_replayed(ctx: ObjectContext, replayed: Any) -> dict[str, int]:
    """Add replays: `{requests, inputTokens, outputTokens}` (a bare int counts requests only)."""
    if isinstance(replayed, int):
        replayed = {"requests": replayed}
    total = (await ctx.get("replayed") or 0) + int(replayed.get("requests", 0))
    ctx.set("replayed", total)
    tokens = await ctx.get("replayedTokens") or {"inputTokens": 0, "outputTokens": 0}
    for k in tokens:
        tokens[k] += int(replayed.get(k, 0))
    ctx.set("replayedTokens", tokens)
    return {"requests": total, **tokens}


__all__ = ["agent_task", "task_ledger", "TERMINAL"]
