"""Checkpoints of a task, read from its events: which file changes a rewind or undo reverts (and
in what order), which commands it cannot undo, and where the conversation is cut at an event.

Each `edit` event of a change carries `before` (the hash of the content before it, kept in the
checkpoint store; None: the task created the file) and `sha` (after; None: deleted). Plain
functions over events and pydantic-ai's JSON messages, shared by the worker's handlers
(durable/task_checkpoints.py) and the clients' previews (client/checkpoints.py).
"""

from __future__ import annotations

from typing import Any

BETWEEN = "changed between the task's own changes (by you or another task); left as it is"
NOT_KEPT = (
    "no content before the task's change was kept (an edit made in the editor's buffer, or a task "
    "from before checkpoints); left as it is: your editor's undo may help"
)


def changes_after(events: list[dict[str, Any]], after_seq: int, done: set[int]) -> list[dict[str, Any]]:
    """The file changes to revert, one plan per path, the path changed last first: `{path, now,
    back, seqs, broken}` (`now`: the hash the task left; `back`: the content to restore; `broken`:
    older changes that cannot be reverted because someone changed the file between them)."""
    by_path: dict[str, list[dict[str, Any]]] = {}
    for e in sorted(events, key=lambda e: e["seq"], reverse=True):
        d = e.get("detail") or {}
        if e["kind"] != "edit" or e["seq"] <= after_seq or e["seq"] in done or not d.get("path") or "error" in d:
            continue
        by_path.setdefault(d["path"], []).append(e)
    plans = []
    for path, newest_first in by_path.items():
        first = newest_first[0]["detail"]
        plan = {
            "path": path,
            "now": first.get("sha"),
            "back": first.get("before"),
            "seqs": [],
            "broken": [],
            "order": newest_first[0]["seq"],
        }
        if "before" not in first:
            plan["unknown"] = True
        for e in newest_first:
            d = e["detail"]
            if plan["seqs"] and (plan["broken"] or "before" not in d or d.get("sha") != plan["back"]):
                plan["broken"].append(e["seq"])
                continue
            plan["seqs"].append(e["seq"])
            if e is not newest_first[0]:
                plan["back"] = d.get("before")
        plans.append(plan)
    return sorted(plans, key=lambda p: p["order"], reverse=True)


def preview(events: list[dict[str, Any]], after_seq: int) -> dict[str, Any]:
    """What an undo (`after_seq` 0) or rewind would revert, before it is done: `{revert: [path],
    commands}`; each file is still checked when the revert happens (one changed since is skipped)."""
    done: set[int] = set()
    for e in events:  # changes reverted by earlier undos or rewinds
        d = e.get("detail") or {}
        if e["kind"] == "status" and (d.get("undo") or d.get("rewind")):
            done.update(d.get("revertedSeqs") or [])
    return {
        "revert": [p["path"] for p in changes_after(events, after_seq, done)],
        "commands": commands_after(events, after_seq),
    }


def commands_after(events: list[dict[str, Any]], after_seq: int) -> list[str]:
    """Commands the task ran after `after_seq`: their effects are not undone."""
    return [
        (e.get("detail") or {}).get("command") or e["title"].removeprefix("run_command ")
        for e in events
        if e["seq"] > after_seq and e["kind"] == "tool" and e["title"].startswith("run_command")
    ]


def cut_messages(messages: list[dict[str, Any]], events: list[dict[str, Any]], at_seq: int) -> list[dict[str, Any]]:
    """The conversation as it stood at event `at_seq`: up to the model response of the last
    `model` event at or before it, with the tool results that answered that response (a cut in
    the middle of its tool calls keeps those calls; the next run closes them). Responses and
    `model` events pair one to one, in order."""
    responses = sum(1 for e in events if e["kind"] == "model" and e["seq"] <= at_seq)
    if responses == 0:
        return []
    seen = 0
    for i, m in enumerate(messages):
        if m.get("kind") != "response":
            continue
        seen += 1
        if seen < responses:
            continue
        kept = messages[: i + 1]
        nxt = messages[i + 1] if i + 1 < len(messages) else None
        if (
            nxt
            and nxt.get("kind") == "request"
            and nxt.get("parts")
            and all(p.get("part_kind") in ("tool-return", "retry-prompt") for p in nxt["parts"])
        ):
            kept.append(nxt)
        return kept
    return list(messages)
