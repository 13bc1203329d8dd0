"""A task's conversation: the pydantic-ai message history (model requests and responses, tool
calls and their results) kept in the task object's state, and the agent run of one turn over it.

Each turn (the first prompt, each follow-up) is its own invocation of the task object, which
reads the history from state, runs the agent on it and writes the history back when the turn
ends, however it ends (Restate's chat-agent pattern): a turn's journal holds only that turn's
steps, and a follow-up never sends an earlier model request again. Messages cross the state
boundary as pydantic-ai's own JSON (`ModelMessagesTypeAdapter`).
"""

from __future__ import annotations

from typing import Any

from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelMessagesTypeAdapter, repair_messages
from restate import ObjectContext

HISTORY = "history"


async def load(ctx: ObjectContext) -> list[ModelMessage]:
    """The history kept by earlier turns, made runnable again: tool calls a cut-off turn left
    without a result are closed with a synthesised one (pydantic-ai's `repair_messages`)."""
    kept: list[dict[str, Any]] | None = await ctx.get(HISTORY)
    if not kept:
        return []
    return repair_messages(ModelMessagesTypeAdapter.validate_python(kept))


def save(ctx: ObjectContext, messages: list[ModelMessage]) -> None:
    """Keep the history. What a replay of the turn writes must be what it wrote (Restate compares
    a replayed state write with the journal's), so values pydantic-ai makes up at run time and
    not from the journal (run ids, the clock reading of each request) are left out."""
    ctx.set(HISTORY, [_stable(m) for m in ModelMessagesTypeAdapter.dump_python(messages, mode="json")])


RUN_TIME_FIELDS = ("run_id", "conversation_id")


def _stable(message: dict[str, Any]) -> dict[str, Any]:
    for name in RUN_TIME_FIELDS:
        message.pop(name, None)
    # failed attempts of a request are this run's own (their times differ on replay); the
    # attempts are events of the task already (model_retry.py)
    message.pop("failed_attempts", None)
    if message.get("kind") == "request":  # a response's time is the journaled response's own
        message.pop("timestamp", None)
        for part in message.get("parts", []):
            part.pop("timestamp", None)
    return message


class Turn:
    """One turn: the agent run on the prompt after `history`, then once more for each batch of
    steers that arrived after its last model request (`take_steers`), so none waits for a
    follow-up. `messages()` is the whole conversation so far, also when the run was cut off."""

    def __init__(self, agent: Agent[Any, str], history: list[ModelMessage], take_steers):
        self.agent = agent
        self.history = history
        self.take_steers = take_steers  # async () -> list[str], journaled; None: no steers
        self._run = None

    def messages(self) -> list[ModelMessage]:
        return self._run.all_messages() if self._run is not None else list(self.history)

    async def run(self, prompt: str, **kwargs: Any):
        while True:
            async with self.agent.iter(prompt, message_history=self.history, **kwargs) as run:
                self._run = run
                async for _ in run:
                    pass
            self.history = run.all_messages()
            steers = await self.take_steers() if self.take_steers else []
            if not steers:
                return run.result
            prompt = "\n\n".join(steers)
