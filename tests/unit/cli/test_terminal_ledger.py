"""The ledger as `dals tasks` and `dals run` print it: totals, replays and the tokens they saved."""

from __future__ import annotations

from dals.cli.follow import ledger_line
from dals.cli.terminal import task_table


def task(task_id, requests, replayed=0, saved_in=0, saved_out=0, cost=None, saved_usd=None):
    return {
        "taskId": task_id,
        "status": "succeeded",
        "steps": requests * 2,
        "title": f"task {task_id}",
        "updatedAt": "2026-11-27T07:00:00.000Z",
        "usage": {
            "requests": requests,
            "inputTokens": 100 * requests,
            "outputTokens": 10 * requests,
            "replayedRequests": replayed,
            "replayedInputTokens": saved_in,
            "replayedOutputTokens": saved_out,
            "costUsd": cost,
            "savedUsd": saved_usd,
        },
    }


def test_totals_line_counts_replays_and_saved_tokens():
    table = task_table(
        [task("a", 4, replayed=3, saved_in=1200, saved_out=30, cost=0.01, saved_usd=0.0025), task("b", 2, cost=0.002)]
    )
    total = table.splitlines()[-1]
    assert total.startswith("2 tasks · 6 model requests · 600 in / 60 out tokens · ~$0.0120")
    assert total.endswith("3 replayed from the journal (1,230 tokens not paid again, ~$0.0025)")


def test_no_replays_no_saved_clause_and_unpriced_tasks_say_so():
    total = task_table([task("a", 1), task("b", 1, cost=0.5)]).splitlines()[-1]
    assert "replayed" not in total and "(+1 unpriced)" in total


def test_ledger_line_after_a_run():
    line = ledger_line(task("a", 6, replayed=2, saved_in=900, saved_out=87))
    assert line.endswith("2 replayed from the journal (987 tokens not paid again)")
    assert ledger_line(task("b", 1)).endswith("0 replayed from the journal")
