"""Model-side observation: one task event per journaled model request, and telling a request
that really reached the provider from one answered out of the journal on replay.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic_ai.capabilities import AbstractCapability
from pydantic_ai.messages import ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.wrapper import WrapperModel

from .task_record import TaskRecord


class CountingModel(WrapperModel):
    """Counts the requests that actually run. Inside the journaled step, so a replayed step
    (answered from the journal) never reaches it."""

    def __init__(self, wrapped):
        super().__init__(wrapped)
        self.executed = 0

    async def request(self, *args: Any, **kwargs: Any) -> ModelResponse:
        self.executed += 1
        return await super().request(*args, **kwargs)


def iso(ts) -> str:
    return ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def describe(response: ModelResponse) -> tuple[str, dict[str, Any]]:
    calls = [p for p in response.parts if isinstance(p, ToolCallPart)]
    text = "".join(p.content for p in response.parts if isinstance(p, TextPart))
    if calls:
        title = "Model: " + ", ".join(c.tool_name for c in calls)
    else:
        title = "Model: answer"
    detail: dict[str, Any] = {
        "model": response.model_name,
        "inputTokens": response.usage.input_tokens,
        "outputTokens": response.usage.output_tokens,
        "toolCalls": [{"tool": c.tool_name, "args": _args_preview(c)} for c in calls],
    }
    if text:
        detail["text"] = text[:500]
    return title, detail


def _args_preview(call: ToolCallPart) -> dict[str, Any]:
    args = call.args_as_dict()
    return {k: (v[:200] + "…" if isinstance(v, str) and len(v) > 200 else v) for k, v in args.items()}


@dataclass(init=False)
class ModelEvents(AbstractCapability[Any]):
    """Writes the `model` event after each journaled model step (outside the step: `ctx.set`
    is not allowed inside it) and counts replayed requests."""

    def __init__(self, record: TaskRecord, counter: CountingModel):
        self.record = record
        self.counter = counter
        self.seen_executed = 0
        self.replayed = 0  # in this attempt: requests answered from the journal

    async def after_model_request(self, ctx, *, request_context, response: ModelResponse) -> ModelResponse:
        if self.counter.executed == self.seen_executed:
            self.replayed += 1
        self.seen_executed = self.counter.executed
        title, detail = describe(response)
        self.record.model_step(iso(response.timestamp), title, response.usage.input_tokens,
                               response.usage.output_tokens, detail)
        return response
