"""Provider failures of a model request, handled in the journal.

A model request that fails with something a retry can fix (429, 5xx, a refused connection, a hung
request) is not left to Restate's invocation retries, which run no handler code while they back
off and so could not tell the user why. Instead each failed attempt is journaled at once (the
model step runs with `max_attempts=1`), and this capability, in the handler:

- writes a `status` event `retrying` with the provider's reason, then waits a durable timer
  (200 ms doubling up to 5 s) raced with a resume signal, then asks pydantic-ai for another
  attempt of the same request step (`RetryModelRequest`: the model never sees the failure);
- after `DALS_TASK_MAX_ATTEMPTS` (default 12) failed attempts in a row, writes a `status` event
  `paused` and waits, durably and for as long as it takes, for `dals.resumeTask`.

Both waits are a Restate awakeable whose id is in the summary (`resume.requestId`): resuming
resolves it. Everything here is decided from journaled values only (the failures are journal
entries), so a replay writes the same events and waits on the same, already completed, timers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import restate
from pydantic_ai.capabilities import AbstractCapability
from pydantic_ai.exceptions import RetryModelRequest
from restate import ObjectContext, TerminalError

from ..config.settings import current
from .input_check import Refused, check
from .task_record import TaskRecord

# The status code a retryable provider failure is journaled with (see CountingModel).
RETRYABLE_CODE = 503
FIRST_DELAY_S = 0.2
MAX_DELAY_S = 5.0


def max_attempts() -> int:
    """Failed attempts of one model request before the task pauses (at least 1)."""
    return current().task_max_attempts


def backoff_s(failures: int) -> float:
    """Delay after the `failures`-th failure in a row: 0.2, 0.4, 0.8, 1.6, 3.2, then 5 s."""
    return min(FIRST_DELAY_S * 2 ** (failures - 1), MAX_DELAY_S)


@dataclass(init=False)
class ModelRetries(AbstractCapability[Any]):
    """Retry a failed model request from the handler, with events; pause after too many."""

    def __init__(self, ctx: ObjectContext, record: TaskRecord, now, limit: int | None = None):
        self.ctx = ctx
        self.record = record
        self.now = now  # async () -> ISO time, journaled
        self.limit = limit or max_attempts()
        self.failures = 0  # in a row, for the current request step

    async def _users(self, resume_id: str, signal) -> bool:
        """Whether the resume signal is the user's (signed, dals.trust); a refusal is recorded."""
        try:
            check(signal, "resume", f"{self.record.summary['taskId']}/{resume_id}")
            return True
        except Refused as e:
            self.record.refused("a resume", str(e), await self.now())
            return False

    async def after_model_request(self, ctx, *, request_context, response):
        self.failures = 0
        return response

    async def on_model_request_error(self, ctx, *, request_context, error: Exception):
        if not (isinstance(error, TerminalError) and error.status_code == RETRYABLE_CODE):
            raise error  # terminal for the step (a wrong key, a bad request, a cancel)
        self.failures += 1
        reason = error.message
        if self.failures < self.limit:
            delay = backoff_s(self.failures)
            resume_id, resumed = self.ctx.awakeable(type_hint=dict)
            self.record.retrying(reason, self.failures, self.limit, delay, resume_id, await self.now())
            timer = self.ctx.sleep(timedelta(seconds=delay))
            match await restate.select(resumed=resumed, timer=timer):
                case ["resumed", signal] if not await self._users(resume_id, signal):
                    await timer  # not the user's resume: the backoff goes on as planned
        else:
            resume_id, resumed = self.ctx.awakeable(type_hint=dict)
            self.record.paused(reason, self.failures, resume_id, await self.now())
            while True:
                signal = await resumed
                try:
                    check(signal, "resume", f"{self.record.summary['taskId']}/{resume_id}")
                    break
                except Refused as e:  # not the user's: wait again, on a new signal
                    resume_id, resumed = self.ctx.awakeable(type_hint=dict)
                    self.record.summary["resume"] = {"requestId": resume_id}
                    self.record.refused("a resume", str(e), await self.now())
            self.record.resumed(await self.now())
            self.failures = 0
            request_context.attempt = 1  # pydantic-ai caps attempts per step; a resume starts afresh
        raise RetryModelRequest()
