"""A task's usage in words (`TaskSummary.usageLine`), worded here once for every editor client:

`7 steps, 4 model requests (2 replayed, 9,120 tokens saved ~$0.0190), 12,345/678 tokens in/out, cost ~$0.0312`

The cost is "unknown" when the model's price is (after a request), and left out before any.
"""

from __future__ import annotations

from typing import Any


def usd(amount: float) -> str:
    """`$0.0042` below a dollar, `$12.35` from a dollar up, `$0` for a free model."""
    if amount == 0:
        return "$0"
    if amount < 0.0001:
        return "<$0.0001"
    return f"${amount:.4f}" if amount < 1 else f"${amount:.2f}"


def _number(value: Any) -> int | float:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else 0


def _counted(n: Any, noun: str) -> str:
    n = _number(n)
    return f"{int(n):,} {noun}{'' if n == 1 else 's'}"


def replays(usage: dict[str, Any]) -> str:
    """`2 replayed, 9,120 tokens saved ~$0.0190`, or `0 replayed`."""
    replayed = _number(usage.get("replayedRequests"))
    if not replayed:
        return "0 replayed"
    saved = _number(usage.get("replayedInputTokens")) + _number(usage.get("replayedOutputTokens"))
    saved_usd = _number(usage.get("savedUsd"))
    return f"{int(replayed):,} replayed, {int(saved):,} tokens saved" + (f" ~{usd(saved_usd)}" if saved_usd > 0 else "")


def usage_line(summary: dict[str, Any]) -> str:
    usage = summary.get("usage") or {}
    requests = _number(usage.get("requests"))
    line = (
        f"{_counted(summary.get('steps'), 'step')}, {_counted(requests, 'model request')} ({replays(usage)}), "
        f"{int(_number(usage.get('inputTokens'))):,}/{int(_number(usage.get('outputTokens'))):,} tokens in/out"
    )
    cost = usage.get("costUsd")
    if isinstance(cost, int | float):
        return line + ", cost " + ("$0" if cost == 0 else "~" + usd(cost))
    return line + (", cost unknown" if requests else "")
