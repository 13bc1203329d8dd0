"""Model-side observation: one task event per journaled model request, telling a request that
really reached the provider from one answered out of the journal on replay, and sorting provider
failures into terminal ones (a wrong key, an invalid request: retrying cannot help) and the rest
(rate limits, 5xx, connection errors, timeouts: journaled as retryable failures, which
`model_retry.ModelRetries` retries with events and then pauses on).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from pydantic_ai.capabilities import AbstractCapability
from pydantic_ai.exceptions import ModelHTTPError
from pydantic_ai.messages import ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models import StreamedResponse
from pydantic_ai.models.wrapper import WrapperModel
from restate import TerminalError
from restate.exceptions import RetryableError

from ..agent.offline_model import PlanError
from ..agent.providers import key_hint, model_string_of, redact, split
from .model_retry import RETRYABLE_CODE
from .task_record import TaskRecord

# Provider answers that no retry can fix. 408, 409, 429 and 5xx are not here: they are retried.
TERMINAL_STATUSES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    413: "Request Too Large",
    422: "Unprocessable Entity",
}


class CountingModel(WrapperModel):
    """Counts the requests that actually run. Inside the journaled step, so a replayed step
    (answered from the journal) never reaches it."""

    def __init__(self, wrapped):
        super().__init__(wrapped)
        self.executed = 0
        _without_sdk_retries(wrapped)

    async def request(self, *args: Any, **kwargs: Any) -> ModelResponse:
        self.executed += 1
        try:
            return await super().request(*args, **kwargs)
        except Exception as e:
            raise _sorted(self.wrapped, e) from None

    @asynccontextmanager
    async def request_stream(self, *args: Any, **kwargs: Any) -> AsyncIterator[StreamedResponse]:
        self.executed += 1
        try:
            async with super().request_stream(*args, **kwargs) as stream:
                yield stream
        except Exception as e:
            raise _sorted(self.wrapped, e) from None


def _sorted(model, e: Exception) -> Exception:
    """A provider failure as a terminal or retryable step failure (see the module's docstring)."""
    if isinstance(e, ModelHTTPError) and e.status_code in TERMINAL_STATUSES:
        # Terminal inside the journaled step: Restate records the failure, no retry.
        return TerminalError(provider_failure(model, e), status_code=400)
    if isinstance(e, PlanError):  # the offline model's plan is malformed: retrying cannot help
        return TerminalError(f"offline plan: {e}", status_code=400)
    # 429, 5xx, a refused connection, a timeout, a broken response: worth another try
    return RetryableError(retryable_failure(model, e), status_code=RETRYABLE_CODE)


def _without_sdk_retries(model) -> None:
    """The provider SDKs (openai, anthropic) retry 429/5xx silently, twice by default. Every
    attempt is made visible instead (a journaled failure and a `retrying` event, see model_retry)."""
    client = getattr(model, "client", None)
    if client is not None and isinstance(getattr(client, "max_retries", None), int):
        client.max_retries = 0


def retryable_failure(model, error: Exception) -> str:
    """'openai-chat:gpt-4.1: 429 Too Many Requests (provider said: …)' or the error's type and text."""
    name = model_string_of(model)
    if isinstance(error, ModelHTTPError):
        phrase = _PHRASES.get(error.status_code, "")
        said = _provider_message(error)
        text = f"{error.status_code} {phrase}".strip() + (f" (provider said: {said})" if said else "")
    else:
        cause = error.__cause__ or error.__context__
        text = f"{type(error).__name__}: {error}" + (f" ({type(cause).__name__}: {cause})" if cause else "")
    return redact(f"{name}: {text}")[:500]


_PHRASES = {
    408: "Request Timeout",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
    529: "Overloaded",
}


def provider_failure(model, error: ModelHTTPError) -> str:
    """'openai-chat:gpt-4.1: 401 Unauthorized — check OPENAI_API_KEY …' (never a key's value)."""
    name = model_string_of(model)
    status = error.status_code
    key = key_hint(split(name)[0])
    where = getattr(model, "base_url", None)
    at = f" at {where}" if where else ""
    if status == 401:
        fix = (
            f"check {key}: the provider{at} refused it. Set it in the environment that starts the runtime, "
            "then `dals down && dals up`"
        )
    elif status == 403:
        fix = f"check {key} and the account's access to this model"
    elif status == 404:
        fix = f"check the model name in DALS_MODEL / dals.model (the provider{at} does not know it)"
    else:
        fix = "the provider rejected the request; check the model name and that it supports tool calls"
    said = _provider_message(error)
    provider = f" (provider said: {said})" if said else ""
    return redact(f"{name}: {status} {TERMINAL_STATUSES[status]} — {fix}{provider}")


def _provider_message(error: ModelHTTPError) -> str:
    body = error.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        msg = inner.get("message") if isinstance(inner, dict) else inner
        return str(msg)[:300] if msg else ""
    return str(body)[:300] if body else ""


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

    def __init__(self, record: TaskRecord, counter: CountingModel, report=None):
        self.record = record
        self.counter = counter
        self.report = report  # called with the replays not yet reported: {requests, inputTokens, outputTokens}
        self.seen_executed = 0
        # in this attempt: requests answered from the journal, and the tokens they did not cost again
        self.replayed = {"requests": 0, "inputTokens": 0, "outputTokens": 0}
        self.reported = dict(self.replayed)

    def flush(self) -> None:
        """Hand the replays counted so far to `report` (outside the journal: see task_object)."""
        if self.report and self.replayed["requests"] > self.reported["requests"]:
            self.report({k: v - self.reported[k] for k, v in self.replayed.items()})
            self.reported = dict(self.replayed)

    def other_request(self, executed_before: int, input_tokens: int, output_tokens: int) -> None:
        """A journaled request of the task's besides its agent's (a compaction's summary): counted as
        replayed when the model did not run for it."""
        if self.counter.executed == executed_before:
            self.replayed["requests"] += 1
            self.replayed["inputTokens"] += input_tokens
            self.replayed["outputTokens"] += output_tokens
        self.seen_executed = self.counter.executed

    async def after_model_request(self, ctx, *, request_context, response: ModelResponse) -> ModelResponse:
        if self.counter.executed == self.seen_executed:
            self.replayed["requests"] += 1
            self.replayed["inputTokens"] += response.usage.input_tokens
            self.replayed["outputTokens"] += response.usage.output_tokens
        else:
            self.flush()  # the replay is over: a request really ran; count the replays now
        self.seen_executed = self.counter.executed
        title, detail = describe(response)
        self.record.model_step(
            iso(response.timestamp), title, response.usage.input_tokens, response.usage.output_tokens, detail
        )
        return response
