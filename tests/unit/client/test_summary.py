"""Joining the durable summary with Restate's view of the invocation into the contract's status."""
from __future__ import annotations

from dals.client.tasks import public_summary, title_of

BASE = {"taskId": "t", "status": "running", "usage": {"requests": 2, "inputTokens": 5, "outputTokens": 1}}


def test_backing_off_is_retrying_and_paused_is_paused():
    s = public_summary(BASE, {"id": "inv_1", "status": "backing-off", "last_failure": "boom"}, 0)
    assert s["status"] == "retrying" and s["lastFailure"] == "boom" and s["invocationId"] == "inv_1"
    assert public_summary(BASE, {"id": "inv_1", "status": "paused"}, 0)["status"] == "paused"
    assert public_summary(BASE, {"id": "inv_1", "status": "running"}, 0)["status"] == "running"


def test_terminal_status_wins_and_replays_are_counted():
    done = dict(BASE, status="succeeded")
    s = public_summary(done, {"id": "inv_1", "status": "backing-off"},
                       {"requests": 3, "inputTokens": 120, "outputTokens": 30})
    assert s["status"] == "succeeded" and s["usage"]["replayedRequests"] == 3
    assert s["usage"]["replayedInputTokens"] == 120 and s["usage"]["replayedOutputTokens"] == 30
    assert BASE["usage"].get("replayedRequests") is None  # input not mutated


def test_saved_cost_of_replays_where_the_price_is_known():
    priced = dict(BASE, model="openai:gpt-4.1")
    s = public_summary(priced, None, {"requests": 1, "inputTokens": 1_000_000, "outputTokens": 0})
    assert s["usage"]["savedUsd"] == 2.0  # gpt-4.1: $2 per million input tokens
    assert public_summary(BASE, None, None)["usage"]["savedUsd"] is None  # no model, no price
    assert public_summary(BASE, None, None)["usage"]["replayedRequests"] == 0


def test_titles():
    assert title_of("\n  Fix the bug\nmore") == "Fix the bug"
    assert len(title_of("x" * 200)) == 58
    assert title_of("   ") == "task"
