"""The agent's model with each request a journaled step ("Model call"), in place of restate-sdk's
`RestateAgent` wrapper.

`RestateAgent` overrides the agent's toolsets with its own copy of them plus an empty function
toolset (`override(toolsets=..., tools=[])`), so at every model step pydantic-ai walks two
toolsets, each in a task of its own (`get_tools`, `for_run_step`, instructions): about 0.4 ms of
CPU per step on this machine, a tenth of the in-memory step (docs/optimisation-log.md, "Eager steps").
DALS needs none of what that buys (its tools journal themselves through
`JournalRunner`, MCP calls included: `agent/mcp_tools.py`), so the agent stays as built and only its model is
wrapped: the same journal entry as `RestateModelWrapper` writes (name, serde, one attempt), so
journals written before replay unchanged.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from pydantic_ai.exceptions import UserError
from pydantic_ai.messages import ModelResponse, PartDeltaEvent, PartStartEvent, TextPart, TextPartDelta
from pydantic_ai.models import StreamedResponse
from pydantic_ai.models.wrapper import WrapperModel
from restate import RunOptions, SdkInternalBaseException

from .restate_compat import PydanticTypeAdapter

STEP_NAME = "Model call"  # what RestateModelWrapper names it: journals of either replay alike
RESPONSE_SERDE = PydanticTypeAdapter(ModelResponse)

# ctx.run_typed's shape: (name, action, options, *args) -> the step's value
RunStep = Callable[..., Awaitable[Any]]
# Where live text goes while a streamed request runs (outside the journal): called with each piece
Deltas = Callable[[str], None]


class JournaledModel(WrapperModel):
    """`wrapped.request(...)` as one journaled step through `run` (`ctx.run_typed`, or an eager
    step's `run`). A replayed step returns the journaled response without calling `wrapped`.

    With `deltas`, the step streams the request (`wrapped.request_stream`) and hands each piece of
    text to `deltas` as it comes; the step's value, the journaled truth, is the whole response."""

    def __init__(self, wrapped: Any, run: RunStep, options: RunOptions | None = None, deltas: Deltas | None = None):
        super().__init__(wrapped)
        self.run = run
        self.options = dataclasses.replace(options or RunOptions(), serde=RESPONSE_SERDE)
        self.deltas = deltas

    async def _streamed(self, messages: Any, settings: Any, parameters: Any) -> ModelResponse:
        deltas = self.deltas
        if deltas is None:  # request() streams only with deltas
            raise RuntimeError("a streamed request needs deltas")
        async with self.wrapped.request_stream(messages, settings, parameters) as stream:
            async for event in stream:
                if isinstance(event, PartStartEvent) and isinstance(event.part, TextPart) and event.part.content:
                    deltas(event.part.content)
                elif (
                    isinstance(event, PartDeltaEvent)
                    and isinstance(event.delta, TextPartDelta)
                    and event.delta.content_delta
                ):
                    deltas(event.delta.content_delta)
        return stream.get()

    async def request(self, *args: Any, **kwargs: Any) -> ModelResponse:
        action = self.wrapped.request if self.deltas is None else self._streamed
        try:
            return await self.run(STEP_NAME, action, self.options, *args, **kwargs)
        except SdkInternalBaseException as e:
            # as RestateModelWrapper does: the SDK's own exceptions (a suspension, a lost stream) are
            # BaseExceptions, which pydantic-ai's task groups would not pass through as they are
            raise Exception("Internal error during model call") from e

    @asynccontextmanager
    async def request_stream(self, *args: Any, **kwargs: Any) -> AsyncIterator[StreamedResponse]:
        raise UserError("DALS journals whole model responses: streamed requests are not supported")
        yield  # pragma: no cover - makes this an async generator
