"""Joining the durable summary with Restate's view of the invocation into the contract's status."""

from __future__ import annotations

from dals.client.task_summary import public_summary
from dals.client.tasks import title_of

BASE = {"taskId": "t", "status": "running", "usage": {"requests": 2, "inputTokens": 5, "outputTokens": 1}}


def test_backing_off_is_retrying_and_paused_is_paused():
    s = public_summary(BASE, {"id": "inv_1", "status": "backing-off", "last_failure": "boom"}, 0)
    assert s["status"] == "retrying" and s["lastFailure"] == "boom" and s["invocationId"] == "inv_1"
    assert public_summary(BASE, {"id": "inv_1", "status": "paused"}, 0)["status"] == "paused"
    assert public_summary(BASE, {"id": "inv_1", "status": "running"}, 0)["status"] == "running"


def test_terminal_status_wins_and_replays_are_counted():
    done = dict(BASE, status="succeeded")
    s = public_summary(
        done, {"id": "inv_1", "status": "backing-off"}, {"requests": 3, "inputTokens": 120, "outputTokens": 30}
    )
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


def test_a_failure_no_retry_can_fix_is_paused_at_once_with_the_reason():
    mismatch = (
        "[570 Journal mismatch] Found a mismatch between the code paths taken during the previous "
        "execution and the paths taken during this execution."
    )
    s = public_summary(
        BASE, {"id": "inv_1", "status": "backing-off", "last_failure": mismatch, "last_failure_error_code": "570"}, 0
    )
    assert s["status"] == "paused" and s["lastFailure"] == mismatch
    assert s["failure"]["kind"] == "journal mismatch" and s["failure"]["retryable"] is False
    assert "dals.resumeTask" in s["failure"]["fix"] and "dals.cancelTask" in s["failure"]["fix"]
    # the code read from the text when the column is empty; serialization errors too
    assert public_summary(BASE, {"id": "i", "status": "backing-off", "last_failure": mismatch}, 0)["status"] == "paused"
    ser = public_summary(
        BASE,
        {
            "id": "i",
            "status": "backing-off",
            "last_failure": "TypeError('Object of type set is not JSON serializable')",
        },
        0,
    )
    assert ser["status"] == "paused" and ser["failure"]["kind"] == "serialization error"
    # what a retry may fix stays `retrying`, without a `failure`
    busy = public_summary(
        BASE,
        {
            "id": "i",
            "status": "backing-off",
            "last_failure": "[RT0010] worker unreachable",
            "last_failure_error_code": "RT0010",
        },
        0,
    )
    assert busy["status"] == "retrying" and "failure" not in busy


def test_an_invocation_that_ended_without_a_final_event_says_why():
    s = public_summary(BASE, {"id": "i", "status": "completed", "completion_failure": "[500] boom"}, 0)
    assert s["status"] == "failed" and s["error"] == "[500] boom"
    killed = public_summary(BASE, {"id": "i", "status": "completed", "completion_failure": "[409] killed"}, 0)
    assert killed["status"] == "cancelled" and killed["error"] == "[409] killed"


def test_a_follow_up_is_queued_until_its_turn_is_counted_then_its_end_shows():
    """Restate shows a follow-up's invocation running for a moment after the turn's last write."""
    done_once = dict(BASE, status="succeeded", turns=1)
    sent = {"id": "inv_2", "status": "running", "target_handler_name": "follow_up", "idempotency_key": "t.turn2"}
    assert public_summary(done_once, sent, None)["status"] == "queued"  # turn 2 not begun
    assert public_summary(dict(done_once, turns=2), sent, None)["status"] == "succeeded"  # turn 2 ended
    unkeyed = dict(sent, idempotency_key=None)
    assert public_summary(dict(done_once, turns=2), unkeyed, None)["status"] == "queued"  # cannot tell: as before
