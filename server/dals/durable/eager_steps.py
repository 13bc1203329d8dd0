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
step is the one in flight, as before. The steps that go eager are those that call `run` here
(`JournaledModel`'s and `JournalRunner`'s); restate-sdk has no public hook for the rest, so
`install` wraps the SDK's wait on Restate's stream on the context instance (one per invocation
attempt) and relies on how `run_typed` hands back its future; `supported()` says whether the SDK
still has these (`tests/unit/durable/test_eager_steps.py` fails if an upgrade renames them), and
without them the steps are plain `run_typed`.
"""
from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import inspect
from typing import Any

from restate import RunOptions
from restate.serde import DefaultSerde, Serde

from .. import env_vars
from .after_flush import hold_while

# True in the task that waits for an acknowledgement (and the SDK tasks it starts): its own wait on
# Restate's stream is the one the gate lets through.
_acknowledging = contextvars.ContextVar("dals_eager_acknowledging", default=False)
_FETCHED = object()  # `produced` resolved by the SDK's future instead: the step was not run here


def enabled() -> bool:
    return env_vars.flag("DALS_EAGER_STEPS")


def supported(ctx: Any) -> bool:
    """The SDK internals this relies on are there (restate-sdk 1.3)."""
    return (callable(getattr(ctx, "run_typed", None))
            and inspect.iscoroutinefunction(getattr(ctx, "create_poll_or_cancel_coroutine", None))
            and callable(getattr(getattr(ctx, "vm", None), "is_completed", None)))


class EagerSteps:
    """One invocation attempt's eager steps: at most one unacknowledged at a time."""

    def __init__(self, ctx: Any):
        self.ctx = ctx
        self.pending: asyncio.Task | None = None  # waits for the last eager step's acknowledgement
        self.handle: int | None = None
        self._last: asyncio.Task | None = None  # the latest step's task, pending or not yet
        self._run_typed = ctx.run_typed
        self._poll = ctx.create_poll_or_cancel_coroutine
        ctx.create_poll_or_cancel_coroutine = self._gated_poll
        hold_while(ctx, self.unacknowledged)

    def unacknowledged(self) -> bool:
        p = self.pending
        return p is not None and not p.done() and not self.ctx.vm.is_completed(self.handle)

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
        tasks = {self.pending, self._last} - {None}
        self.pending = self._last = None
        for task in tasks:
            if not task.done():
                task.cancel()
            elif not task.cancelled():
                task.exception()  # retrieved: not logged as "never retrieved" when collected

    async def _gated_poll(self, unresolved: Any) -> None:
        await self.settle()
        return await self._poll(unresolved)

    async def run(self, name: str, action: Any, options: RunOptions = RunOptions(), /,  # noqa: B008 (as restate)
                  *args: Any, **kwargs: Any) -> Any:
        """`ctx.run_typed(name, action, options, *args, **kwargs)`, returning before the ack. The
        caller names the serde (`options.serde`); with restate-sdk's default one, which the SDK
        picks from the action's signature, the step is a plain `run_typed`."""
        await self.settle()  # the step before is journaled before this one starts
        if isinstance(options.serde, DefaultSerde):
            return await self._run_typed(name, action, options, *args, **kwargs)
        serde = _Journaled(options.serde)
        produced = asyncio.get_running_loop().create_future()

        async def produce(*a: Any, **k: Any) -> Any:
            value = action(*a, **k)
            if inspect.isawaitable(value):
                value = await value
            if not produced.done():
                produced.set_result(value)
            return value

        future = self._run_typed(name, produce, dataclasses.replace(options, serde=serde), *args, **kwargs)
        token = _acknowledging.set(True)
        try:
            fetch = asyncio.ensure_future(future.future.get())
        finally:
            _acknowledging.reset(token)
        self._last = fetch
        fetch.add_done_callback(lambda _: produced.done() or produced.set_result(_FETCHED))
        if await produced is _FETCHED or fetch.done() or serde.data is None:  # replayed, or it failed
            return await fetch
        self.pending, self.handle = fetch, future.handle
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
        self.value, self.decoded = self.inner.deserialize(self.data), True
        return self.value

    def deserialize(self, buf: bytes) -> Any:
        if self.decoded and buf == self.data:
            return self.value
        return self.inner.deserialize(buf)


def install(ctx: Any) -> EagerSteps | None:
    """Eager steps for this attempt, or None (disabled, or an SDK without the methods)."""
    if not enabled() or not supported(ctx):
        return None
    return EagerSteps(ctx)
