"""The transcript renders a task's events as Markdown: prompts, follow-ups, steers, the agent's
text, tool calls with short results, diffs, approvals and how each turn ended."""

from __future__ import annotations

from dals.client.transcript import render


def ev(seq, kind, title, status="running", **detail):
    return {"seq": seq, "kind": kind, "title": title, "status": status, "detail": detail or None}


def test_a_two_turn_task_reads_as_a_conversation():
    shown = {
        "taskId": "t1",
        "title": "Fix it",
        "status": "succeeded",
        "turns": 2,
        "steps": 4,
        "workspace": "/w",
        "usage": {"requests": 4, "inputTokens": 1200, "outputTokens": 80},
        "events": [
            ev(1, "status", "Task started"),
            ev(2, "message", "You: Fix it", role="user", text="Fix it\nplease", turn=1),
            ev(3, "model", "Model: run_command", toolCalls=[{"tool": "run_command"}]),
            ev(4, "tool", "run_command pytest", exitCode=1, stdout="1 failed\n", stderr=""),
            ev(5, "message", "You: stop", role="user", text="use -x", steer=True),
            ev(
                6,
                "approval",
                "Apply this change to a.py?",
                status="waiting",
                action="edit",
                question="Apply this change to a.py?",
                diff="-a\n+b\n",
            ),
            ev(7, "approval", "Approved", decision="approve"),
            ev(8, "edit", "edit_file a.py", path="a.py", diff="--- a/a.py\n+++ b/a.py\n-a\n+b\n"),
            ev(9, "model", "Model: answer", text="Done."),
            ev(10, "message", "Agent: Done.", role="assistant", text="Done."),
            ev(11, "status", "Task succeeded", status="succeeded", result="Done."),
            ev(12, "message", "You: more", role="user", text="and the docs", turn=2),
            ev(13, "status", "Task failed: boom", status="failed", error="boom"),
        ],
    }
    md = render(shown)
    assert md.startswith("# Fix it\n")
    assert "2 turn(s)" in md and "1,200 in / 80 out tokens" in md
    assert "## You\n\n> Fix it\n> please" in md
    assert "- `run_command pytest` → exit 1" in md and "1 failed" in md
    assert "## You (steer)\n\n> use -x" in md
    assert "**Approval asked:** Apply this change to a.py?" in md and "- **Approved**" in md
    assert "```diff\n--- a/a.py\n+++ b/a.py\n-a\n+b\n```" in md
    assert "## Agent\n\nDone." in md and md.count("Done.") == 1  # the final model event adds no copy
    assert "**Task succeeded**" in md and "## You (follow-up, turn 2)\n\n> and the docs" in md
    assert "**Task failed: boom**" in md
    assert "\n\n\n" not in md


def test_a_task_without_message_events_still_shows_its_prompt():
    md = render(
        {
            "taskId": "t",
            "title": "Old",
            "prompt": "do the old thing",
            "status": "succeeded",
            "events": [ev(1, "status", "Task started"), ev(2, "status", "Task succeeded", status="succeeded")],
        }
    )
    assert "## You\n\ndo the old thing" in md
