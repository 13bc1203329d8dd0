"""The durable task: one Restate VirtualObject `AgentTask` per task, keyed by task id.

`run` (exclusive) runs the pydantic-ai agent with its model wrapped by `JournaledModel` and its
tools stepping through `JournalRunner`: every model request and tool call is a journaled step, so
a crash resumes from the journal. `run` is the conversation's first turn; each follow-up is an
invocation of `follow_up` (task_turns.py) running the same `_run` on the kept history
(conversation.py), with steers read from `TaskInbox` (task_inbox.py). `events` (shared) reads the
summary and events while `run` is going. A VirtualObject rather than a Workflow: Restate can
restart an ended VirtualObject invocation from a journal index (rewind), not a Workflow.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import restate
from pydantic import ValidationError
from pydantic_ai.exceptions import AgentRunError, UserError
from pydantic_ai.messages import ModelMessagesTypeAdapter
from pydantic_ai.usage import UsageLimits
from restate import ObjectContext, ObjectSharedContext, RunOptions, TerminalError
from restate.serde import JsonSerde

from ..agent import project_instructions
from ..agent.coder import build_agent
from ..agent.deps import TaskDeps
from ..agent.models import ModelConfigError, resolve_model
from ..config.settings import DEFAULT_ALLOW, current, state_dir
from ..local import cancel_marks, editor_presence
from ..local.event_wakeups import sender as hint_sender
from ..workspace.confine import workspace_key
from . import compaction, conversation, eager_steps, side_channels, worker_ingress
from .editor_sessions import lookup as editor_lookup
from .input_check import Refused, check
from .journaled_model import JournaledModel
from .mcp_setup import mcp_toolsets
from .model_events import CountingModel, ModelEvents
from .model_retry import ModelRetries
from .task_inbox import CURSOR as INBOX_CURSOR, Steering
from .task_notes import read_since as notes_read_since, since as notes_since
from .task_record import SPEC, SUMMARY, TaskRecord, event_key
from .task_spec import FollowUp, TaskSpec, task_prompt
from .task_status import TERMINAL

log = restate.getLogger("dals.task")

# Failures outside model requests (a tool step's unexpected exception, a worker that keeps dying):
# short backoff, then pause (resumable) rather than fail. Provider failures of model requests are
# retried in the handler instead, with events (model_retry.py). `DALS_TASK_MAX_ATTEMPTS` is read
# when the worker registers (Restate keeps service options from registration).
RETRY = restate.InvocationRetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    exponentiation_factor=2.0,
    max_interval=timedelta(seconds=5),
    max_attempts=current().task_max_attempts,
    on_max_attempts="pause",
)

# Test-only: DALS_FORCE_REPLAY=1 makes every task suspend after each step and replay its journal
# on the next (Restate's inactivity timeout 0), so any non-determinism in the handler shows up.
FORCE_REPLAY = current().force_replay

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
MODEL_TIMEOUT_S = current().model_timeout_s

# A tool step's result is a JSON object: its serde is fixed here, not worked out from the action's
# signature on every step (as restate-sdk does for its default serde).
STEP_OPTIONS: RunOptions[Any] = RunOptions(serde=JsonSerde())

task_ledger = restate.VirtualObject("TaskLedger", description="Non-journal counters of a task (replays).")


class JournalRunner:
    """The agent's StepRunner on Restate: steps are journaled through `run_step` (an eager step's
    `run`, or `ctx.run_typed`), events go to the record."""

    def __init__(
        self, ctx: ObjectContext, record: TaskRecord, spec: TaskSpec, run_step, reads_by_step: bool | None = None
    ):
        self.ctx = ctx
        self.run_step = run_step  # the same one the model's steps use (chosen once in `_run`)
        self.record = record
        self.task_id = spec.taskId
        self.editor_key = workspace_key(Path(spec.workspace)) if spec.editor else None
        self.local_editors = spec.editorLookup == "local"
        self.approval_timeout = timedelta(seconds=spec.approvalTimeoutS) if spec.approvalTimeoutS else None
        self.notes_cursor = 0
        # notes through the ingress in a step (`_reads_by_step`; None: as the spec says, "auto" aside)
        self.notes_by_step = spec.notesRead == "step" if reads_by_step is None else reads_by_step

    async def editor_for(self, path):
        """The live editor session that has `path` open (None: any live one), journaled, or None."""
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
            case ["answer", signed]:
                try:
                    result = check(signed, "editor", f"{self.task_id}/{request_id}")
                    outcome = result if isinstance(result, dict) else None
                except Refused as e:  # not the user's editor: as if none answered (the disk path)
                    self.record.refused("an editor answer", str(e), _iso(await self.ctx.time()))
                    outcome = None
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
        (through the ingress) even across restarts of every process. Only an answer signed by the
        user counts (dals.trust): anything else is recorded, and the task waits again on a new
        awakeable for the same request (its `requestId` stays; `awakeableId` changes)."""
        request_id, answer = self.ctx.awakeable(type_hint=dict)
        self.record.ask(request_id, request, _iso(await self.ctx.time()))
        limit = self.approval_timeout
        timeout = self.ctx.sleep(limit) if limit else None
        secs = int(limit.total_seconds()) if limit else 0  # what the reject says when it times out
        while True:
            if timeout is None:
                signed = await answer
            else:
                match await restate.select(answer=answer, timeout=timeout):
                    case ["answer", signed]:
                        pass
                    case _:
                        decision = {"decision": "reject", "comment": f"no answer within {secs} s (approval timeout)"}
                        break
            try:
                decision = check(signed, "answer", f"{self.task_id}/{request_id}")
                break
            except Refused as e:
                awakeable_id, answer = self.ctx.awakeable(type_hint=dict)
                self.record.summary["pending"]["awakeableId"] = awakeable_id
                self.record.refused("an answer", str(e), _iso(await self.ctx.time()))
        if not isinstance(decision, dict) or decision.get("decision") not in ("approve", "reject"):
            decision = {"decision": "reject", "comment": "malformed answer"}
        self.record.answered(request_id, decision, _iso(await self.ctx.time()))
        return decision


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def _now(ctx: ObjectContext) -> str:
    return _iso(await ctx.time())


_background: set[asyncio.Task] = set()


def _spawn(coro) -> None:
    """Fire and forget, but keep a reference: asyncio only holds tasks weakly."""
    task = asyncio.get_running_loop().create_task(coro)
    _background.add(task)
    task.add_done_callback(_background.discard)


async def _report_replayed(task_id: str, replayed: dict[str, int]) -> None:
    """Replays are not part of the journal (a replay is the journal read again), so they are
    counted beside it: a one-way call to TaskLedger, outside the durable context."""
    http = worker_ingress.client()
    if http is None or replayed.get("requests", 0) <= 0:
        return
    try:
        await http.post(
            f"/TaskLedger/{task_id}/add_replayed/send", json=replayed, headers={"idempotency-key": uuid.uuid4().hex}
        )
    except httpx.HTTPError as e:
        logging.getLogger("dals.task").warning("could not record replays %s: %s", replayed, e)


@agent_task.handler()
async def run(ctx: ObjectContext, request: dict[str, Any]) -> dict[str, Any]:
    """Start the task: `request` is its TaskSpec signed by the user's client (dals.trust)."""
    try:
        spec = TaskSpec.model_validate(check(request, "start", ctx.key()))
    except (Refused, ValidationError) as e:
        return await _refuse_start(ctx, e)
    existing: dict[str, Any] | None = await ctx.get(SUMMARY)
    if existing:  # a start sent again: the task exists (and ran, or runs)
        return await _refuse_start(ctx, Refused("this task was started already (replayed?)"))
    steps = eager_steps.install(ctx)
    try:
        run_step = steps.run if steps else ctx.run_typed
        spec = await side_channels.choose(spec, lambda name, fn: run_step(name, fn, STEP_OPTIONS))
        return await _run(ctx, spec, steps)
    finally:
        if steps:  # every way out awaits ctx.time() first, which waits for the acknowledgement;
            steps.cancel()  # this only stops the wait when the attempt ends on an exception


async def _refuse_start(ctx: ObjectContext, why: Exception) -> dict[str, Any]:
    """Run nothing. A task that exists gets a `log` event; for an unknown id the worker's log says
    it (check() logged it, or here): a forger does not get to create tasks in the user's list."""
    reason = str(why).splitlines()[0][:300]
    summary: dict[str, Any] | None = await ctx.get(SUMMARY)
    if not summary:
        if not isinstance(why, Refused):
            log.warning("refused a start of %s: %s", ctx.key(), reason)
        return {"refused": reason}
    record = TaskRecord.resume(ctx, summary)
    record.refused("a start", reason, _iso(await ctx.time()))
    return {"refused": reason}


async def _run(
    ctx: ObjectContext,
    spec: TaskSpec,
    steps: eager_steps.EagerSteps | None,
    follow_up: FollowUp | None = None,
    summary: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A turn of the task: its first (`run`), or a follow-up's (task_turns.py) on the kept
    conversation. Its end (succeeded, failed, cancelled) is written here, in one place."""
    if follow_up is None or summary is None:  # the first turn
        follow_up, record = None, TaskRecord(ctx, spec.model_dump())
    else:
        record = TaskRecord.resume(ctx, summary)
    try:
        status, outcome = await _work(ctx, spec, steps, record, follow_up)
        at = _iso(await ctx.time())  # a cancel kept from the last step comes here (eager_steps)
    except TerminalError as e:
        if e.status_code != eager_steps.CANCELLED:
            raise
        # Cancelled (dals.cancelTask), wherever the handler was: Restate raises it once, so this
        # wait goes on, and the attempt and its replays all come here.
        record.finish("cancelled", _iso(await ctx.time()))
        cancel_marks.clear(state_dir(), ctx.request().id)  # outside the journal: idempotent
        raise
    record.finish(status, at, **outcome)
    return record.summary


async def _work(
    ctx: ObjectContext,
    spec: TaskSpec,
    steps: eager_steps.EagerSteps | None,
    record: TaskRecord,
    follow_up: FollowUp | None,
) -> tuple[str, dict[str, str]]:
    """Run the agent for one turn: ("succeeded", {result}) or ("failed", {error}); a cancel raises."""
    if follow_up is None:
        if spec.conversation:
            ctx.set(SPEC, spec.model_dump(mode="json"))  # what the follow-ups run with
        record.emit("status", "Task started", _iso(await ctx.time()), {"model": spec.model}, status="running")
        prompt = task_prompt(spec)
        history, cursor = [], 0
        if spec.forkedFrom:
            try:
                history = await _forked_history(ctx, spec)
            except TerminalError as e:
                return "failed", {"error": e.message}
        if spec.forkedFrom and not spec.prompt:  # only the conversation: ready for a follow-up
            conversation.save(ctx, history)
            return "succeeded", {"result": "Forked: follow up to continue"}
        if spec.conversation:
            record.message("user", spec.prompt, record.summary["updatedAt"], turn=1)
    else:
        prompt = follow_up.prompt
        record.turn_started(prompt, _iso(await ctx.time()))
        history, cursor = await conversation.load(ctx), await ctx.get(INBOX_CURSOR) or 0
    try:
        model = CountingModel(resolve_model(spec.model))
    except ModelConfigError as e:
        return "failed", {"error": str(e)}
    events = ModelEvents(record, model, report=lambda n: _spawn(_report_replayed(spec.taskId, n)))
    retries = ModelRetries(ctx, record, now=lambda: _now(ctx))
    # a task from before conversations replays its journal as it was written: no steers, no history
    run_step = steps.run if steps else ctx.run_typed
    reads_by_step = await _reads_by_step(spec, run_step)
    read_step = (lambda name, fn: run_step(name, fn, STEP_OPTIONS)) if reads_by_step else None
    steering = Steering(ctx, record, cursor, read_step) if spec.conversation else None
    # one attempt per journaled model step: a failure is journaled at once, and ModelRetries decides
    agent = build_agent(
        JournaledModel(model, run_step, RunOptions(max_attempts=1), deltas=_live_text(spec, record)),
        await mcp_toolsets(ctx, spec, record),
    )
    deps = TaskDeps(
        root=Path(spec.workspace),
        runner=JournalRunner(ctx, record, spec, run_step, reads_by_step),
        mode=spec.mode,
        commands_allow=spec.commandsAllow if spec.commandsAllow is not None else list(DEFAULT_ALLOW),
    )
    turn = conversation.Turn(agent, history, steering.take if steering else None)
    instructions = await _project_instructions(spec, run_step) if spec.conversation else None
    capabilities = [events, retries] + ([steering] if steering else [])
    if spec.context:
        capabilities.append(
            compaction.Compaction(
                ctx,
                record,
                model,
                events,
                run_step,
                int(spec.context["maxTokens"]),
                await compaction.load(ctx),
                now=lambda: _now(ctx),
                timeout_s=MODEL_TIMEOUT_S,
            )
        )
    try:
        try:
            result = await turn.run(
                prompt,
                deps=deps,
                capabilities=capabilities,
                instructions=instructions,
                usage_limits=UsageLimits(request_limit=spec.requestLimit),
                model_settings={"timeout": MODEL_TIMEOUT_S},
            )
        except (TerminalError, AgentRunError, UserError):
            if spec.conversation:
                conversation.save(ctx, turn.messages())  # what a cut-off turn said stays for a follow-up
            raise
        finally:
            events.flush()
        if spec.conversation:
            conversation.save(ctx, turn.messages())
    except TerminalError as e:
        if e.status_code == eager_steps.CANCELLED:
            raise
        return "failed", {"error": e.message}
    except (AgentRunError, UserError) as e:
        return "failed", {"error": f"{type(e).__name__}: {e}"}
    if spec.conversation:
        record.message("assistant", str(result.output), _iso(await ctx.time()))
    return "succeeded", {"result": str(result.output)}


async def _reads_by_step(spec: TaskSpec, run_step) -> bool:
    """Whether the task reads its notes and inbox in journaled steps through the ingress rather than
    in child calls (TaskSpec.notesRead). "auto" (workers elsewhere): whether this worker reaches the
    ingress, asked once per invocation in a journaled step, so its replays read the same way."""
    if spec.notesRead != "auto":
        return spec.notesRead == "step"

    async def reaches() -> bool:
        return worker_ingress.client() is not None

    return bool(await run_step("notes read by step", reaches, STEP_OPTIONS))


async def _forked_history(ctx: ObjectContext, spec: TaskSpec) -> list:
    """The conversation a fork starts from: the source task's, cut at `atSeq` (a journaled call)."""
    from .task_checkpoints import fork_source  # registered on this object by that module

    src = spec.forkedFrom or {}
    got = await ctx.object_call(fork_source, key=src.get("taskId", ""), arg=src.get("atSeq"))
    if "error" in got:
        raise TerminalError(f"cannot fork: {got['error']}")
    return ModelMessagesTypeAdapter.validate_python(got["history"])


@agent_task.handler(kind="shared")
async def cancel(ctx: ObjectSharedContext, request: dict[str, Any]) -> dict[str, Any]:
    """Cancel the task's run: `request` names its invocation, signed by the user's client."""
    try:
        body = check(request, "cancel", ctx.key())
    except Refused as e:
        return {"refused": str(e)}
    if not isinstance(body, dict) or not isinstance(body.get("invocationId"), str):
        return {"refused": "no invocationId"}
    ctx.cancel_invocation(body["invocationId"])
    return {"cancelled": body["invocationId"]}


async def _project_instructions(spec: TaskSpec, run_step) -> str | None:
    """The workspace's AGENTS.md (or CLAUDE.md) that applies, read as the turn starts (journaled)."""

    async def read() -> dict[str, Any]:
        return project_instructions.find(Path(spec.workspace), spec.path)

    return project_instructions.as_instructions(await run_step("Project instructions", read, STEP_OPTIONS))


def _live_text(spec: TaskSpec, record: TaskRecord):
    """Where a streamed model response's text goes while it runs (`dals/taskDelta`): to followers on
    this machine, for the event it will become; not journaled. None (no streaming) for tasks whose
    followers are elsewhere (`wakeup` "feed")."""
    if spec.wakeup != "hint":
        return None
    return lambda text: hint_sender().send_delta(spec.taskId, record.summary["lastSeq"] + 1, text)


@agent_task.handler(kind="shared", journal_retention=timedelta(0), idempotency_retention=timedelta(0))
async def events(ctx: ObjectSharedContext, since: int = 0) -> dict[str, Any]:
    """The summary and the events after `since` (at most 500): what clients poll."""
    summary: dict[str, Any] | None = await ctx.get(SUMMARY)
    if not summary:
        return {"summary": None, "events": []}
    last = min(summary["lastSeq"], since + 500)
    found: list[dict[str, Any] | None] = [await ctx.get(event_key(seq)) for seq in range(since + 1, last + 1)]
    return {"summary": summary, "events": [e for e in found if e]}


@task_ledger.handler()
async def add_replayed(ctx: ObjectContext, replayed: Any) -> dict[str, int]:
    """Add replays: `{requests, inputTokens, outputTokens}` (a bare int counts requests only)."""
    if isinstance(replayed, int):
        replayed = {"requests": replayed}
    total: int = await ctx.get("replayed") or 0
    total += int(replayed.get("requests", 0))
    ctx.set("replayed", total)
    tokens: dict[str, int] = await ctx.get("replayedTokens") or {"inputTokens": 0, "outputTokens": 0}
    for k in tokens:
        tokens[k] += int(replayed.get(k, 0))
    ctx.set("replayedTokens", tokens)
    return {"requests": total, **tokens}


__all__ = ["agent_task", "task_ledger", "TERMINAL"]
