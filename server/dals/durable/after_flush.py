"""Run a callback right after restate-sdk has handed the handler's buffered journal output (e.g.
a `ctx.set`) to Restate, rather than at the event loop's next turn.

`ctx.set` only buffers: the SDK sends what is buffered when the handler next awaits a journaled
operation (`take_and_send_output`) or ends (`leave`). A wake-up hint sent earlier (on the loop's
next turn, which pydantic-ai's own awaits bring well before that) sends followers to read a write
Restate does not have yet: under load a third of their reads came back empty, each a Restate
invocation for nothing (docs/benchmarks.md, "Hints after the SDK's flush").

There is no public hook for this in restate-sdk, so the SDK's flushes are wrapped on the context
instance (one per invocation attempt) through restate_compat.py. Where they are missing (a fake
context), `after_flush` returns False and the caller falls back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from . import restate_compat

log = logging.getLogger("dals.durable")

FLUSHES = restate_compat.FLUSHES


class _Pending:
    """The callbacks waiting for the next flush, one per key (a newer one replaces the older)."""

    def __init__(self, ctx: Any):
        self.callbacks: dict[str, Callable[[], None]] = {}
        self.hold: Callable[[], bool] = lambda: False  # True: keep the callbacks for a later flush
        restate_compat.wrap_flushes(ctx, self._wrap)

    def _wrap(self, flush):
        async def flush_then_run(*args, **kwargs):
            try:
                return await flush(*args, **kwargs)
            finally:  # also when the flush fails: the callback is only "look now"
                self.run()

        return flush_then_run

    def run(self) -> None:
        if not self.callbacks or self.hold():
            return
        callbacks, self.callbacks = self.callbacks, {}
        for callback in callbacks.values():
            try:
                callback()
            except Exception:  # noqa: BLE001 - a callback must not fail the invocation
                log.exception("after-flush callback failed")


def supported(ctx: Any) -> bool:
    return restate_compat.has_flushes(ctx)


def _pending(ctx: Any) -> _Pending | None:
    pending = getattr(ctx, "_dals_after_flush", None)
    if pending is None and supported(ctx):
        pending = ctx._dals_after_flush = _Pending(ctx)
    return pending


def after_flush(ctx: Any, key: str, callback: Callable[[], None]) -> bool:
    """Call `callback` once the SDK has sent what the handler has journaled so far; for one `key`
    only the latest callback runs. False (nothing registered) if `ctx` has no such flush."""
    pending = _pending(ctx)
    if pending is None:
        return False
    pending.callbacks[key] = callback
    return True


def hold_while(ctx: Any, hold: Callable[[], bool]) -> None:
    """Flushes while `hold()` is true keep their callbacks for the first flush after it
    (eager_steps.py: nothing is pushed ahead of a journal entry Restate has not acknowledged)."""
    pending = _pending(ctx)
    if pending is not None:
        pending.hold = hold
