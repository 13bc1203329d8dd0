"""Steering: messages the user sends to a running or waiting task (`dals.steer`).

`TaskInbox/{taskId}/add` stores a message durably (the client's call returns once it is stored);
kept beside the task because the task's own handler is exclusive and busy. The running turn
reads the inbox with a journaled call before each model request (`Steering`, a pydantic-ai
capability) and gives the new messages to the model with that request, each recorded as a
`message` event: a replay reads the same answer from the journal, so a message reaches the model
exactly once whatever crashes. How far the task has read is kept in its state (`inboxCursor`).
A message sent while the task waits for an approval goes with the request after the answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import restate
from pydantic_ai.capabilities import AbstractCapability
from pydantic_ai.messages import ModelRequest, UserPromptPart
from restate import ObjectContext, ObjectSharedContext

from . import worker_ingress
from .input_check import Refused, check, log
from .task_record import TaskRecord

MAX_MESSAGES = 1000
MAX_TEXT = 20_000
CURSOR = "inboxCursor"

task_inbox = restate.VirtualObject("TaskInbox", description="Steering messages for a running task.")


@task_inbox.handler()
async def add(ctx: ObjectContext, request: dict[str, Any]) -> dict[str, Any]:
    """Store `{id, text, at}`, signed by the user's client (dals.trust) for this task; returns its
    number (1-based) among the task's messages, or `{refused}` (a forged or replayed message)."""
    try:
        message = check(request, "steer", ctx.key())
        if not isinstance(message, dict):
            raise Refused("not a message")
    except Refused as e:
        return {"refused": str(e)}
    messages: list[dict[str, Any]] = await ctx.get("messages") or []
    if message.get("id") and any(m.get("id") == message["id"] for m in messages):
        log.warning("refused steer on %s: message %s was stored already (replayed?)", ctx.key(), message["id"])
        return {"refused": "this message was stored already (replayed?)"}
    base: int = await ctx.get("dropped") or 0
    messages.append({"id": message.get("id"), "text": str(message.get("text", ""))[:MAX_TEXT], "at": message.get("at")})
    if len(messages) > MAX_MESSAGES:
        base += len(messages) - MAX_MESSAGES
        messages = messages[-MAX_MESSAGES:]
        ctx.set("dropped", base)
    ctx.set("messages", messages)
    return {"number": base + len(messages)}


@task_inbox.handler(kind="shared")
async def since(ctx: ObjectSharedContext, cursor: int) -> dict[str, Any]:
    """The messages after the first `cursor` ones, and the new cursor."""
    messages: list[dict[str, Any]] = await ctx.get("messages") or []
    base: int = await ctx.get("dropped") or 0
    return {"messages": messages[max(0, cursor - base) :], "cursor": base + len(messages)}


async def read_since(task_id: str, cursor: int) -> dict[str, Any]:
    """`since` through the ingress (from inside a journaled step: no child invocation)."""
    return await worker_ingress.call("TaskInbox", task_id, "since", cursor)


@dataclass(init=False)
class Steering(AbstractCapability[Any]):
    """Delivers the inbox's new messages into the next model request of the running turn."""

    def __init__(self, ctx: ObjectContext, record: TaskRecord, cursor: int, step=None):
        """`step(name, fn)`: a journaled step, to read the inbox through the ingress inside it
        (workers on this machine; see TaskSpec.notesRead); None: a journaled call."""
        self.ctx = ctx
        self.record = record
        self.cursor = cursor
        self.step = step

    async def take(self) -> list[str]:
        """The messages not delivered yet (a journaled step or call), recorded as delivered."""
        task_id, cursor = self.record.summary["taskId"], self.cursor
        if self.step is not None:  # no child invocation: a cancel is heard at the same point on replay

            async def read() -> dict[str, Any]:
                return await read_since(task_id, cursor)

            got = await self.step("inbox since", read)
        else:
            got = await self.ctx.object_call(since, key=task_id, arg=cursor)
        if got["cursor"] == self.cursor:
            return []
        self.cursor = got["cursor"]
        self.ctx.set(CURSOR, self.cursor)
        texts = []
        for message in got["messages"]:
            texts.append(message["text"])
            self.record.message(
                "user", message["text"], message.get("at") or self.record.summary["updatedAt"], steer=True
            )
        return texts

    async def before_model_request(self, ctx, request_context):
        texts = await self.take()
        if texts:  # into this request and the run's history (later requests, the next turn)
            ctx.enqueue(ModelRequest(parts=[UserPromptPart(text) for text in texts]))
        return request_context
