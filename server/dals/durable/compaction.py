"""Long conversations: what the model sees of a task's history when it nears the context window.

Before each model request (`prepare_model_request`), the request is estimated (agent/context_fit.py:
characters / 4). Above `COMPACT_AT` of the task's window, the older messages are compacted: a
summarising request, one journaled step ("Compact history") like any model request, so a crash never
sends it twice and a replay reads the same summary; its text then stands in for those messages in
every later request of the task, this turn's and the follow-ups' (state `compaction`: how many of the
history's first messages it covers, and the summary). A `log` event with `detail.kind: "compaction"`
says so. The history in state and the events keep everything (the transcript, forks and rewinds use
them); only the requests carry the summary. Tool results longer than a tenth of the window are
shortened in every request, with a note on how to get the rest.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic_ai.capabilities import AbstractCapability
from pydantic_ai.direct import model_request
from pydantic_ai.messages import ModelRequest, TextPart, UserPromptPart
from pydantic_ai.settings import ModelSettings
from restate import ObjectContext, RunOptions, SdkInternalBaseException
from restate.serde import JsonSerde

from ..agent import context_fit as fit
from .model_events import CountingModel, ModelEvents
from .task_record import TaskRecord

STATE = "compaction"
STEP_NAME = "Compact history"
STEP_OPTIONS: RunOptions[dict[str, Any]] = RunOptions(serde=JsonSerde())


async def load(ctx: ObjectContext) -> dict[str, Any]:
    """What earlier turns compacted: `{upTo, summary, count}` (none yet: upTo 0)."""
    return await ctx.get(STATE) or {"upTo": 0, "summary": None, "count": 0}


@dataclasses.dataclass(init=False)
class Compaction(AbstractCapability[Any]):
    """Fits each model request of a turn into `max_tokens` (the task's context window)."""

    def __init__(
        self,
        ctx: ObjectContext,
        record: TaskRecord,
        model: CountingModel,
        events: ModelEvents,
        run_step: Callable[..., Awaitable[Any]],
        max_tokens: int,
        kept: dict[str, Any],
        now: Callable[[], Awaitable[str]],
        timeout_s: float,
    ):
        self.ctx = ctx
        self.record = record
        self.model = model
        self.events = events
        self.run_step = run_step
        self.max_tokens = max_tokens
        self.kept = dict(kept)
        self.now = now
        self.timeout_s = timeout_s
        self.fitter = fit.Fitter(fit.tool_result_limit(max_tokens))
        self.tool_sizes: dict[str, int] = {}

    async def prepare_model_request(self, ctx, request_context):
        messages = self.fitter.shortened(request_context.messages)
        fixed = fit.fixed_chars(request_context.model_request_parameters, self.tool_sizes)
        up_to = self.kept["upTo"] if self.kept["upTo"] < len(messages) else 0  # a history cut since (rewind)
        seen = fit.view(messages, up_to, self.kept["summary"])
        before = fit.estimate(seen, fixed, self.fitter.size)
        if before > self.max_tokens * fit.COMPACT_AT:
            cut = fit.cut_point(messages, up_to, fit.keep_chars(self.max_tokens, fixed), self.fitter.size)
            if cut is not None and cut > up_to:
                summary, usage = await self._summarise(messages[up_to:cut], self.kept["summary"] if up_to else None)
                self.kept = {"upTo": cut, "summary": summary, "count": self.kept["count"] + 1}
                self.ctx.set(STATE, self.kept)
                seen = fit.view(messages, cut, summary)
                self.record.compacted(
                    await self.now(),
                    usage,
                    {
                        "kind": "compaction",
                        "messages": cut - up_to,
                        "upTo": cut,
                        "tokensBefore": before,
                        "tokensAfter": fit.estimate(seen, fixed, self.fitter.size),
                        "maxTokens": self.max_tokens,
                        "summary": summary,
                    },
                )
        request_context.messages = seen
        return request_context

    async def _summarise(self, older: list, previous: str | None) -> tuple[str, dict[str, int]]:
        """The summary of `older` (after `previous`): one journaled request per part that fits."""
        limit = fit.summary_limit(self.max_tokens)
        blocks = fit.rendered(older)
        usage = {"requests": 0, "inputTokens": 0, "outputTokens": 0}
        room = max(1000, int(self.max_tokens * fit.SUMMARY_INPUT) * fit.CHARS_PER_TOKEN - limit)
        for group in fit.chunks(blocks, room):
            got = await self._ask(fit.summary_prompt(previous, group, limit), limit)
            for k in usage:
                usage[k] += got[k] if k != "requests" else 1
            previous = got["text"].strip()[:limit] or fit.fallback_summary(group, limit)
        return previous or "", usage

    async def _ask(self, prompt: str, limit: int) -> dict[str, Any]:
        settings = ModelSettings(max_tokens=max(100, fit.tokens(limit) * 2), timeout=self.timeout_s)

        async def ask() -> dict[str, Any]:
            response = await model_request(
                self.model, [ModelRequest(parts=[UserPromptPart(prompt)])], model_settings=settings, instrument=False
            )
            text = "".join(p.content for p in response.parts if isinstance(p, TextPart))
            return {
                "text": text,
                "inputTokens": response.usage.input_tokens,
                "outputTokens": response.usage.output_tokens,
            }

        executed = self.model.executed
        try:
            got = await self.run_step(STEP_NAME, ask, STEP_OPTIONS)
        except SdkInternalBaseException as e:  # as JournaledModel does: through pydantic-ai's task groups
            raise Exception("Internal error during a compaction") from e
        self.events.other_request(executed, got["inputTokens"], got["outputTokens"])
        return got
