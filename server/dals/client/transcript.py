"""A task as a readable Markdown document (`dals.transcript`), rendered from its events.

Rendered here rather than in each editor so that clients stay thin: the prompt and each
follow-up or steer, the agent's text, tool calls with short results, diffs, approvals and how
each turn ended. Only journaled events are read: text a crash cut off never shows.
"""

from __future__ import annotations

from typing import Any

SHORT = 400  # characters of a command's output shown
DIFF = 4000


def render(shown: dict[str, Any]) -> str:
    """`shown` is `TaskService.show`'s answer: the TaskSummary plus its events."""
    u = shown.get("usage") or {}
    lines = [
        f"# {shown.get('title') or shown.get('taskId')}",
        "",
        f"Task `{shown.get('taskId')}` · {shown.get('status')} · {shown.get('turns', 1)} turn(s) · "
        f"{shown.get('steps', 0)} steps · {u.get('requests', 0)} model requests "
        f"({u.get('inputTokens', 0):,} in / {u.get('outputTokens', 0):,} out tokens) · "
        f"workspace `{shown.get('workspace')}`",
        "",
    ]
    for event in shown.get("events") or []:
        lines += _event(event)
    if not any(e.get("kind") == "message" for e in shown.get("events") or []) and shown.get("prompt"):
        lines[4:4] = ["## You", "", shown["prompt"], ""]  # a task from before message events
    text = "\n".join(lines)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.strip() + "\n"


def _event(e: dict[str, Any]) -> list[str]:
    d = e.get("detail") or {}
    kind, title = e.get("kind"), e.get("title", "")
    if kind == "message":
        if d.get("role") == "user":
            who = (
                "You (steer)"
                if d.get("steer")
                else "You"
                if (d.get("turn") or 1) == 1
                else f"You (follow-up, turn {d['turn']})"
            )
            return ["", f"## {who}", "", _quote(d.get("text", "")), ""]
        return ["", "## Agent", "", d.get("text", ""), ""]
    if kind == "model":
        if d.get("toolCalls"):
            return [f"- *{title}*" + (f": {_one_line(d['text'])}" if d.get("text") else "")]
        return []  # the final text comes as the assistant's message
    if kind == "edit":
        out = [f"- **{title}**" + (f" — {d['error']}" if d.get("error") else "")]
        if d.get("diff"):
            out += ["", "```diff", d["diff"][:DIFF].rstrip("\n"), "```", ""]
        return out
    if kind == "tool":
        out = [f"- `{title}`" + _tool_result(d)]
        output = (d.get("stdout") or "") + (d.get("stderr") or "")
        if output.strip():
            out += ["", "  ```", *("  " + line for line in output[:SHORT].rstrip("\n").splitlines()), "  ```", ""]
        return out
    if kind == "approval":
        if "decision" in d:
            return [f"- **{title}**"]
        out = [f"- **Approval asked:** {d.get('question') or title}"]
        if d.get("command"):
            out.append(f"  `{d['command']}`")
        if d.get("diff"):
            out += ["", "```diff", d["diff"][:DIFF].rstrip("\n"), "```", ""]
        return out
    if kind == "status":
        if title == "Task started":
            return []
        return ["", f"**{title}**" if e.get("status") in ("succeeded", "failed", "cancelled") else f"- *{title}*", ""]
    if kind == "log" and d.get("kind") == "compaction":
        return [
            f"- *{title}*",
            "",
            "  <details><summary>What the model sees in their place</summary>",
            "",
            *("  " + line for line in _quote(d.get("summary", "")).splitlines()),
            "",
            "  </details>",
            "",
        ]
    return [f"- {title}"]


def _tool_result(d: dict[str, Any]) -> str:
    if "exitCode" in d:
        return f" → exit {d['exitCode']}" + (" (timed out)" if d.get("timedOut") else "")
    if "error" in d:
        return f" → error: {d['error']}"
    for key, what in (("count", "files"), ("matches", "matches"), ("chars", "characters")):
        if key in d:
            return f" → {d[key]} {what}"
    return ""


def _quote(text: str) -> str:
    return "\n".join("> " + line if line else ">" for line in text.splitlines()) or ">"


def _one_line(text: str) -> str:
    first = " ".join(text.split())
    return first if len(first) <= 160 else first[:157] + "…"
