"""Following a task from a terminal: the runtime connection, the events as they come, the
ledger line. Shared by `dals run` and `dals demo`; the reading and waiting is
`client.task_follow`'s, the same loop `dals lsp` uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from ..client.restate_api import RestateApi, RestateUnavailable
from ..client.task_follow import TaskFollower
from ..client.tasks import TaskService
from ..durable.task_status import TERMINAL
from ..runtime import control

CHECK_CONDITION_EVERY = 2.0  # seconds without events before asking whether the run is backing off

EventHook = Callable[[dict[str, Any], dict[str, Any] | None], Awaitable[None] | None]
ConditionHook = Callable[[dict[str, Any]], Awaitable[None] | None]


@contextlib.asynccontextmanager
async def task_service() -> AsyncIterator[TaskService]:
    """Ensure the runtime of this state dir runs (`dals up`) and yield a TaskService on it."""
    status = await control.up_async()
    api = RestateApi(status["restate"]["ingress"], status["restate"]["admin"])
    service = TaskService(api)
    try:
        yield service
    finally:
        service.close_hints()
        await api.aclose()


async def retrying(make_call: Callable[[], Awaitable[Any]], timeout: float = 60.0) -> Any:
    """Await `make_call()`, retrying while Restate is unavailable (restarting), up to `timeout`."""
    deadline = time.monotonic() + timeout
    delay = 0.1
    while True:
        try:
            return await make_call()
        except RestateUnavailable:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(delay)
            delay = min(1.0, delay * 2)


async def _call(hook, *args) -> None:
    if hook is None:
        return
    outcome = hook(*args)
    if inspect.isawaitable(outcome):
        await outcome


async def follow(
    service: TaskService,
    task_id: str,
    on_event: EventHook | None = None,
    on_condition: ConditionHook | None = None,
    since: int = 0,
    after: int = 0,
) -> dict[str, Any]:
    """Call `on_event(event, summary)` for each event after `since` until the task ends (an end at
    or before event `after` is a previous turn's: a follow-up was just sent).

    Returns the task's public summary (TaskSummary plus `result`/`error`). A run that stops
    without ending (`paused`: retries exhausted) also ends the follow; `on_condition(shown)` is
    told about `retrying` and `paused` as they are noticed.
    """
    reader = TaskFollower(service, task_id, since, after)
    idle_since = time.monotonic()
    last_check = 0.0
    async for page in reader.pages():
        for event in page.events:
            await _call(on_event, event, page.summary)
        if page.ended:
            return await final_summary(service, task_id, reader.summary or {})
        now = time.monotonic()
        if page.events:
            idle_since = now
        if now - idle_since > CHECK_CONDITION_EVERY and now - last_check > CHECK_CONDITION_EVERY:
            last_check = now
            shown = await _shown(service, task_id)
            if shown and shown.get("status") in ("retrying", "paused"):
                await _call(on_condition, shown)
                if shown["status"] == "paused":
                    return shown
    return await final_summary(service, task_id, reader.summary or {})  # not reached: the last page ends


async def _shown(service: TaskService, task_id: str) -> dict[str, Any] | None:
    try:
        return await service.show(task_id)
    except RestateUnavailable:
        return None


async def final_summary(service: TaskService, task_id: str, durable: dict[str, Any]) -> dict[str, Any]:
    """The public summary of an ended task (replay counts included); the durable one as fallback."""
    shown = await _shown(service, task_id)
    if not shown or shown.get("status") not in TERMINAL:
        shown = dict(durable)
        shown.setdefault("usage", {}).setdefault("replayedRequests", 0)
    shown.pop("events", None)
    return shown


def saved_tokens(usage: dict[str, Any]) -> int:
    """Tokens of the requests answered from the journal: not paid again."""
    return (usage.get("replayedInputTokens") or 0) + (usage.get("replayedOutputTokens") or 0)


def ledger_line(summary: dict[str, Any]) -> str:
    """`6 model requests (1,204 in / 87 out tokens) · 5 tool calls · 0 replayed from the journal`."""
    u = summary.get("usage") or {}
    saved = saved_tokens(u)
    return (
        f"ledger: {u.get('requests', 0)} model requests "
        f"({u.get('inputTokens', 0):,} in / {u.get('outputTokens', 0):,} out tokens) · "
        f"{u.get('toolCalls', 0)} tool calls · {u.get('replayedRequests', 0)} replayed from the journal"
        + (f" ({saved:,} tokens not paid again)" if saved else "")
    )
