"""The contract's TaskSummary of a task: its durable summary (the `AgentTask` object's state)
joined with Restate's view of its invocation (backing off, paused, ended without a final event, a
follow-up not begun) and its replay counts (`TaskLedger`), with cost and the usage line."""

from __future__ import annotations

import json
from typing import Any

from ..durable.task_status import TERMINAL
from .failures import describe as describe_failure
from .pricing import cost_usd
from .usage_line import usage_line


def add_replayed(got: dict[str, int], row: dict[str, Any]) -> None:
    """A TaskLedger state row (`replayed`, `replayedTokens`) into `got`."""
    try:
        value = json.loads(row["value_utf8"])
    except (TypeError, ValueError):
        return
    if row["key"] == "replayed" and isinstance(value, int):
        got["requests"] = value
    elif isinstance(value, dict):
        got.update({k: int(v) for k, v in value.items() if isinstance(v, int)})


def public_summary(summary: dict[str, Any], invocation: dict | None, replayed: dict[str, int] | None) -> dict[str, Any]:
    """The contract's TaskSummary from the durable summary plus the invocation's condition."""
    s = dict(summary)
    replayed = replayed or {}
    u = s["usage"] = dict(s.get("usage") or {})
    u["replayedRequests"] = replayed.get("requests", 0)
    u["replayedInputTokens"] = replayed.get("inputTokens", 0)
    u["replayedOutputTokens"] = replayed.get("outputTokens", 0)
    u["costUsd"] = cost_usd(s.get("model"), u.get("inputTokens") or 0, u.get("outputTokens") or 0)
    # what the replays would have cost had they been sent to the provider again
    u["savedUsd"] = cost_usd(s.get("model"), u["replayedInputTokens"], u["replayedOutputTokens"])
    status = s.get("status", "queued")
    s.setdefault("turns", 1)
    if (
        invocation
        and status in TERMINAL
        and invocation.get("status") != "completed"
        and invocation.get("target_handler_name") == "follow_up"
        and not _turn_done(invocation, s["turns"])
    ):
        status = "queued"  # a follow-up sent, its turn not begun yet
    elif invocation and status not in TERMINAL:
        inv = invocation.get("status")
        if inv == "backing-off":
            status = "retrying"
        elif inv == "paused":
            status = "paused"
        elif inv in ("completed",) and status not in TERMINAL:
            ended = str(invocation.get("completion_failure") or "")
            # 409: cancelled or killed by Restate before the handler could write its final event
            status = "cancelled" if ended.startswith("[409]") else "failed"
            if ended and not s.get("error"):
                s["error"] = ended[:500]
        if inv in ("backing-off", "paused") and invocation.get("last_failure"):
            s["lastFailure"] = str(invocation["last_failure"])[:500]
            failure = describe_failure(invocation.get("last_failure_error_code"), s["lastFailure"])
            if failure:  # the same on every attempt: not `retrying`, waiting for someone to act
                s["failure"], status = failure, "paused"
    s["status"] = status
    s["invocationId"] = invocation.get("id") if invocation else None
    s["usageLine"] = usage_line(s)
    return s


def _turn_done(invocation: dict, turns: int) -> bool:
    """Whether the summary already counts the turn this follow-up invocation runs (its idempotency
    key is `<taskId>.turn<n>`): a turn that has ended while Restate still shows its invocation
    running (the handler returns just after its last write) is not `queued` again."""
    key = str(invocation.get("idempotency_key") or "")
    turn = key.rpartition(".turn")[2]
    return turn.isdigit() and int(turn) <= turns
