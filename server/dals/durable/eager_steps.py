"""Journaled steps whose handler goes on while Restate stores the result (`DALS_EAGER_STEPS`).

`ctx.run_typed` returns a step's value only once Restate has acknowledged the journal entry: the
worker's event loop sits idle for that round trip (Restate's CPU, ~3 ms a step on this machine),
and then does the handler's in-memory work between two steps (pydantic-ai's graph, the events)
while Restate sits idle. An eager step hands the handler the value as soon as the action has
produced it and keeps the acknowledgement pending, so the two overlap. Nothing leaves the worker
before the acknowledgement, which keeps Guarantees 1 and 4 (DESIGN.md):

- the next step (a model request, a tool call) starts only after the previous one is acknowledged
  (`run` waits for it first);
- any other wait on Restate (`ctx.time`, a sleep, a call, an awakeable) waits for it first, so only
  one coroutine reads Restate's stream at a time (`create_poll_or_cancel_coroutine`, gated);
- a hint push (`after_flush`) is held until it: events never reach a client ahead of the journal;
- the handler gets the value as a replay would: deserialised from the bytes it journals.

Between two steps the handler only computes and buffers journal commands (`ctx.set`), which reach
Restate in order after the pending entry; a crash there loses the in-memory work, and the re-run
step is the one in flight, as before.

Cancellation (Restate's cancel signal, a `TerminalError` 409 at the handler's next wait) is the one
outcome that a replay could see at another point than the attempt that wrote the journal: the
attempt may have gone on with a step's value before the signal came, while a replay reads the
signal first if Restate journaled it before the step's completion (always so when the attempt could
not read it: with `DALS_FORCE_REPLAY`, or a stream Restate had closed). So a step's wait always
ends with the step's own journaled outcome: a cancel seen during it is kept, the step's action, if
it is still running, is stopped and fails the step with `TerminalError("cancelled", 409)`
(journaled), and a kept cancel is raised at the handler's next wait on Restate, or fails the next
step the same way. An attempt and its replays hear of the cancel at the same point, whatever the
order of the signal and the completion in the journal.

The steps that go eager are those that call `run` here (`JournaledModel`'s and `JournalRunner`'s);
restate-sdk has no public hook for the rest, so `install` wraps the SDK's wait on Restate's stream
on the context instance (one per invocation attempt) and relies on how `run_typed` hands back its
future, all through restate_compat.py; without them (a fake context) the steps are plain `run_typed`.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import inspect
from typing import Any

from restate import RunOptions, TerminalError
from restate.serde import DefaultSerde, Serde

from ..config.settings import current, state_dir
from ..local import cancel_marks
from . import restate_compat
from .after_flush import hold_while

# True in the task that waits for an acknowledgement (and the SDK tasks it starts): its own wait on
# Restate's stream is the one the gate lets through.
_acknowledging = contextvars.ContextVar("dals_eager_acknowledging", default=False)
_FETCHED = object()  # `produced` resolved by the SDK's future instead: the step was not run here
MARK_AFTER_S, MARK_EVERY_S = 1.0, 0.25  # when a running step starts looking for a cancel mark, how often
CANCELLED = 409  # the status code of restate-sdk's cancellation TerminalError


def cancelled() -> TerminalError:
    return TerminalError("cancelled", CANCELLED)


def enabled() -> bool:
    return current().eager_steps


def supported(ctx: Any) -> bool:
    """The SDK internals this relies on are there."""
    return restate_compat.has_step_internals(ctx)


class EagerSteps:
    """One invocation attempt's eager steps: at most one unacknowledged at a time."""

    def __init__(self, ctx: Any):
        self.ctx = ctx
        self.pending: asyncio.Task | None = None  # waits for the last eager step's acknowledgement
        self.handle: int | None = None
        self._last: asyncio.Task | None = None  # the latest step's task, pending or not yet
        self.cancel_kept = False  # a cancel seen while waiting for a step, not yet raised to the handler
        self._producing: asyncio.Task | None = None  # the task running a step's action right now
        self._stopping: asyncio.Task | None = None  # that task, when the cancel stops it
        self._invocation_id = _invocation_id(ctx)
        self._run_typed = ctx.run_typed
        self._poll: Any = None
        restate_compat.wrap_poll(ctx, self._gate)
        hold_while(ctx, self.unacknowledged)

    def unacknowledged(self) -> bool:
        p = self.pending
        return p is not None and not p.done() and not restate_compat.is_acknowledged(self.ctx, self.handle)

    async def settle(self) -> None:
        """Wait for the pending acknowledgement (raising what it raised: a suspension, a disconnect)."""
        p = self.pending
        if p is None or _acknowledging.get():
            return
        try:
            if not p.done():
                await asyncio.shield(p)  # a cancelled waiter must not cancel the acknowledgement
            p.result()
        finally:
            if self.pending is p and p.done():
                self.pending = None

    def cancel(self) -> None:
        """The attempt is over: stop waiting (its outcome, if any, is the attempt's, not a step's)."""
        tasks = {task for task in (self.pending, self._last) if task is not None}
        self.pending = self._last = None
        for task in tasks:
            if not task.done():
                task.cancel()
            elif not task.cancelled():
                task.exception()  # retrieved: not logged as "never retrieved" when collected

    def _gate(self, poll: Any) -> Any:
        self._poll = poll
        return self._gated_poll

    async def _gated_poll(self, unresolved: Any) -> None:
        if not _acknowledging.get():
            await self.settle()
            if self.cancel_kept:  # the handler's next wait after a step that saw the cancel
                self.cancel_kept = False
                raise cancelled()
            return await self._poll(unresolved)
        while True:  # a step's wait: it ends with the step's journaled outcome
            try:
                return await self._poll(unresolved)
            except TerminalError as e:  # the SDK's poll raises this for the cancel signal only
                if e.status_code != CANCELLED:
                    raise
                self._keep_cancel()  # Restate delivers the signal once: the next poll goes on

    def _keep_cancel(self) -> None:
        self.cancel_kept = True
        task = self._producing
        if task is not None and not task.done():
            self._stopping = task
            task.cancel()  # `produce` turns it into the step's failure

    async def _watch_mark(self, task: asyncio.Task, invocation_id: str) -> None:
        """A cancel Restate could not tell this attempt (cancel_marks.py): stop the step the same way."""
        await asyncio.sleep(MARK_AFTER_S)
        state = state_dir()
        while self._producing is task and self._stopping is None and not task.done():
            if await asyncio.to_thread(cancel_marks.marked, state, invocation_id):
                self._keep_cancel()
                return
            await asyncio.sleep(MARK_EVERY_S)

    def _told(self, error: BaseException) -> None:
        """`error` reaches the handler: if it is the cancel, nothing is kept any more."""
        if isinstance(error, TerminalError) and error.status_code == CANCELLED:
            self.cancel_kept = False

    async def run(
        self,
        name: str,
        action: Any,
        options: RunOptions = RunOptions(),  # noqa: B008 (as restate)
        /,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        """`ctx.run_typed(name, action, options, *args, **kwargs)`, returning before the ack. The
        caller names the serde (`options.serde`); with restate-sdk's default one, which the SDK
        picks from the action's signature, the step is a plain `run_typed`."""
        await self.settle()  # the step before is journaled before this one starts
        if isinstance(options.serde, DefaultSerde):
            return await self._run_typed(name, action, options, *args, **kwargs)
        serde = _Journaled(options.serde)
        produced = asyncio.get_running_loop().create_future()

        async def produce(*a: Any, **k: Any) -> Any:
            if self.cancel_kept:  # cancelled before it started: the step fails without running
                raise cancelled()
            me = asyncio.current_task()
            if me is None:  # the SDK runs each action in a task of its own
                raise RuntimeError("a step's action runs outside an asyncio task")
            self._producing = me
            invocation_id = self._invocation_id
            watch = asyncio.ensure_future(self._watch_mark(me, invocation_id)) if invocation_id else None
            try:
                value = action(*a, **k)
                if inspect.isawaitable(value):
                    value = await value
            except asyncio.CancelledError:
                if self._stopping is not me:
                    raise
                me.uncancel()
                raise cancelled() from None
            finally:
                self._producing = self._stopping = None
                if watch is not None:
                    watch.cancel()
            if not produced.done():
                produced.set_result(value)
            return value

        future = self._run_typed(name, produce, dataclasses.replace(options, serde=serde), *args, **kwargs)
        token = _acknowledging.set(True)
        try:
            fetch = asyncio.ensure_future(restate_compat.acknowledgement(future))
        finally:
            _acknowledging.reset(token)
        self._last = fetch

        def fetched(_: asyncio.Future) -> None:
            if not produced.done():
                produced.set_result(_FETCHED)

        fetch.add_done_callback(fetched)
        if await produced is _FETCHED or fetch.done() or serde.data is None:  # replayed, or it failed
            try:
                return await fetch
            except TerminalError as e:
                self._told(e)
                raise
        self.pending, self.handle = fetch, restate_compat.step_handle(future)
        return serde.copy()  # what a replay would get


class _Journaled(Serde):
    """The step's serde, keeping the bytes the SDK journals: the handler's copy of the value is
    decoded from them (not encoded a second time), and when the SDK decodes the same bytes once
    Restate acknowledges them (a value nobody reads then), it gets that copy instead of a third."""

    def __init__(self, inner: Serde):
        self.inner = inner
        self.data: bytes | None = None
        self.value: Any = None
        self.decoded = False

    def serialize(self, obj: Any) -> bytes:
        self.data = self.inner.serialize(obj)
        return self.data

    def copy(self) -> Any:
        if self.data is None:  # run() copies only a value the SDK serialized
            raise RuntimeError("no journaled bytes to copy the step's value from")
        self.value, self.decoded = self.inner.deserialize(self.data), True
        return self.value

    def deserialize(self, buf: bytes) -> Any:
        if self.decoded and buf == self.data:
            return self.value
        return self.inner.deserialize(buf)


def _invocation_id(ctx: Any) -> str | None:
    try:
        return ctx.request().id
    except Exception:  # noqa: BLE001 - a context without it: no marks are looked for
        return None


def install(ctx: Any) -> EagerSteps | None:
    """Eager steps for this attempt, or None (disabled, or an SDK without the methods)."""
    if not enabled() or not supported(ctx):
        return None
    return EagerSteps(ctx)
