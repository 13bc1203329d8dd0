"""`dals tasks` and `dals run`: the task list and a task started and followed from a terminal.

Output is the CLI's own: results on stdout; the live progress bar (on a TTY) and usage errors
on stderr. A task is durable, so Ctrl-C stops following it, never the task itself.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ..agent.models import HOW_TO_SET, OFFLINE, ModelConfigError, resolve_model
from ..agent.plan import parse_plan
from ..client.restate_api import RestateUnavailable
from ..client.tasks import TaskService, UnknownTask, WrongState, build_spec
from ..config.settings import default_model, state_dir
from ..durable.task_status import STATUSES, TERMINAL
from ..runtime import control
from .follow import follow, ledger_line, retrying, saved_tokens, task_service

BAR_WIDTH = 10


def _err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _out(text: str) -> None:
    print(text, flush=True)


# --- dals tasks -------------------------------------------------------------------------------


async def tasks_command(json_out: bool, statuses: list[str] | None) -> int:
    bad = [s for s in statuses or [] if s not in STATUSES]
    if bad:
        _err(f"dals tasks: unknown status {', '.join(map(repr, bad))}; one of: {', '.join(STATUSES)}")
        return 2
    try:
        async with task_service() as service:
            tasks = await retrying(lambda: service.list(statuses or None), timeout=30.0)
    except control.RuntimeError_ as e:
        _err(f"dals tasks: {e}")
        return 1
    except RestateUnavailable as e:
        _err(f"dals tasks: DALS runtime unavailable: {e}")
        return 1
    if json_out:
        _out(json.dumps({"tasks": tasks}))
    else:
        _out(task_table(tasks))
    return 0


def task_table(tasks: list[dict[str, Any]]) -> str:
    """The task list as a text table with a totals line."""
    head = ("ID", "STATUS", "STEPS", "REQUESTS", "TOKENS IN/OUT", "REPLAYED", "UPDATED", "TITLE")
    rows = [head]
    for t in tasks:
        u = t.get("usage") or {}
        rows.append(
            (
                t["taskId"],
                t["status"],
                str(t.get("steps", 0)),
                str(u.get("requests", 0)),
                f"{u.get('inputTokens', 0)}/{u.get('outputTokens', 0)}",
                str(u.get("replayedRequests", 0)),
                _short_time(t.get("updatedAt")),
                t.get("title", ""),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(head) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:-1], widths)) + "  " + r[-1] for r in rows]
    requests = sum((t.get("usage") or {}).get("requests", 0) for t in tasks)
    tok_in = sum((t.get("usage") or {}).get("inputTokens", 0) for t in tasks)
    tok_out = sum((t.get("usage") or {}).get("outputTokens", 0) for t in tasks)
    costs = [(t.get("usage") or {}).get("costUsd") for t in tasks]
    known = [c for c in costs if c is not None]
    cost = (
        f" · ~${sum(known):.4f}" + (f" (+{len(costs) - len(known)} unpriced)" if len(known) < len(costs) else "")
        if known
        else " · cost unknown"
    )
    replayed = sum((t.get("usage") or {}).get("replayedRequests", 0) for t in tasks)
    saved = sum(saved_tokens(t.get("usage") or {}) for t in tasks)
    saved_usd = [usd for u in (t.get("usage") or {} for t in tasks) if (usd := u.get("savedUsd"))]
    replays = (
        (
            f" · {replayed} replayed from the journal ({saved:,} tokens not paid again"
            + (f", ~${sum(saved_usd):.4f}" if saved_usd else "")
            + ")"
        )
        if replayed
        else ""
    )
    lines.append(
        f"{len(tasks)} tasks · {requests} model requests · {tok_in:,} in / {tok_out:,} out tokens{cost}" + replays
    )
    return "\n".join(lines)


def _short_time(iso: str | None) -> str:
    return (iso or "-").replace("T", " ")[:19]


# --- dals run ---------------------------------------------------------------------------------


def _check_inputs(prompt: str, workspace: str, model: str | None, file: str | None) -> tuple[str, Path, str | None]:
    """(model, workspace root, workspace-relative file); ValueError with the user-facing reason."""
    model = model or default_model()
    if not model:
        raise ValueError(f"no model configured: {HOW_TO_SET}")
    try:
        resolve_model(model)
    except ModelConfigError as e:
        raise ValueError(str(e)) from None
    if model == OFFLINE:
        try:  # the offline model would refuse a malformed plan at every retry: say so now
            parse_plan(prompt)
        except ValueError as e:
            raise ValueError(f"the offline model cannot run this prompt: {e}") from None
    root = Path(workspace).expanduser().resolve()
    if not root.is_dir():
        raise ValueError(f"workspace {workspace!r} is not a directory")
    rel = None
    if file:
        given = Path(file).expanduser()
        candidates = [given.resolve()] if given.is_absolute() else [given.resolve(), (root / given).resolve()]
        inside = [c for c in candidates if c == root or root in c.parents]
        if not inside or inside[0] == root:
            raise ValueError(f"--file {file!r} is not inside the workspace {root}")
        rel = inside[0].relative_to(root).as_posix()
    if not prompt.strip():
        raise ValueError("the prompt is empty")
    return model, root, rel


class ProgressView:
    """Shows a followed task: a bar rewritten in place on a TTY, else one line per event."""

    def __init__(self, prompt: str, live: bool):
        self.live = live
        try:
            plan = parse_plan(prompt)
        except ValueError:
            plan = []
        # a plan of n tool calls takes n model steps, n tool steps and a final answer
        self.total = 2 * len(plan) + 1 if plan else None
        self.shown = False
        self.last_failure = ""
        self.last_condition = ""

    def event(self, event: dict[str, Any], summary: dict[str, Any] | None) -> None:
        if not self.live:
            _out(f"#{event['seq']} {event['kind']} {event['title']}")
            return
        steps = (summary or {}).get("steps", 0)
        if self.total:
            filled = min(BAR_WIDTH, round(BAR_WIDTH * steps / self.total))
        else:
            filled = steps % (BAR_WIDTH + 1)
        line = f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {steps} steps · {event['title']}"
        sys.stderr.write("\r\033[K" + line[:160])
        sys.stderr.flush()
        self.shown = True

    def condition(self, shown: dict[str, Any]) -> None:
        failure = (shown.get("lastFailure") or "").strip().splitlines()[0:1]
        if failure:
            self.last_failure = failure[0][:300]
        text = f"task is {shown['status']}" + (f": {self.last_failure}" if self.last_failure else "")
        if text == self.last_condition:
            return
        self.last_condition = text
        if self.live:
            sys.stderr.write("\r\033[K" + text[:160])
            sys.stderr.flush()
            self.shown = True
        else:
            _out(text)

    def close(self) -> None:
        if self.live and self.shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
            self.shown = False


async def continue_command(task_id: str, prompt: str) -> int:
    """`dals run --continue TASK PROMPT`: the next turn of a finished task, followed like `dals run`."""
    if not prompt.strip():
        _err("dals run: the prompt is empty")
        return 2

    async def send(service: TaskService) -> tuple[str, int]:
        sent = await retrying(lambda: service.follow_up(task_id, prompt))
        _out(f"task {task_id} turn {sent['turn']} started")
        return task_id, sent["since"]

    return await _start_and_follow(ProgressView(prompt, live=sys.stderr.isatty()), send)


async def run_command(prompt: str, workspace: str, model: str | None, file: str | None) -> int:
    try:
        chosen, root, rel = await asyncio.to_thread(_check_inputs, prompt, workspace, model, file)
    except ValueError as e:
        _err(f"dals run: {e}")
        return 2

    async def start(service: TaskService) -> tuple[str, int]:
        # The terminal has no approval prompt: `dals run` runs the commands it is asked to.
        spec = build_spec(prompt, root, chosen, path=rel, commands_allow=["*"], mcp=_mcp_field(root))
        task_id = await retrying(lambda: service.start(spec))
        _out(f"task {task_id} started (model {chosen}, workspace {root})")
        return task_id, 0

    return await _start_and_follow(ProgressView(prompt, live=sys.stderr.isatty()), start)


async def _start_and_follow(view: ProgressView, start: Callable[[TaskService], Awaitable[tuple[str, int]]]) -> int:
    """Start a turn with `start(service)` (its task id and the last event before it), follow the
    task until it ends or pauses, and report it; every way this can go wrong, said once."""
    task_id = None
    try:
        async with task_service() as service:
            task_id, since = await start(service)
            summary = await follow(service, task_id, view.event, view.condition, since=since, after=since)
    except (asyncio.CancelledError, KeyboardInterrupt):
        view.close()
        if task_id:
            _err(f"task {task_id} keeps running; follow it with `dals tasks`")
        return 130
    except UnknownTask:
        _err(f"dals run: unknown task {task_id!r} (see `dals tasks`)")
        return 2
    except WrongState as e:
        _err(f"dals run: {e}".replace("use dals.steer", "steer it from an editor (dals.steer)"))
        return 2
    except control.RuntimeError_ as e:
        _err(f"dals run: {e}")
        return 1
    except RestateUnavailable as e:
        view.close()
        _err(f"dals run: DALS runtime unavailable: {e}")
        return 1
    view.close()
    if summary.get("status") == "paused" and not summary.get("lastFailure"):
        summary["lastFailure"] = view.last_failure
    return report(summary)


def _mcp_field(root: Path) -> dict[str, Any] | None:
    """`dals run`'s MCP servers: DALS_MCP_CONFIG (and the workspace's .mcp.json with
    DALS_MCP_WORKSPACE_SERVERS=1). Like its commands, their tools run without asking: a terminal
    has no approval prompt."""
    from ..agent.mcp_handoff import task_field
    from ..lsp.config import Config

    config = Config.from_env()
    return task_field({}, [], root, config.mcp_workspace_servers, ["*"], config.mcp_timeout_s, state_dir() / "mcp")


def report(summary: dict[str, Any]) -> int:
    """Print how the task ended and its ledger; the exit code (0 succeeded, 1 otherwise)."""
    status = summary.get("status")
    task_id = summary.get("taskId")
    if status == "succeeded":
        _out(f"task {task_id} succeeded: {summary.get('result') or ''}".rstrip())
    elif status == "paused":
        failure = (summary.get("lastFailure") or "unknown failure").strip()
        _out(f"task {task_id} paused after repeated failures: {failure}")
        _out("it is resumable (dals.resumeTask from an editor) and listed by `dals tasks`")
    elif status in TERMINAL:
        _out(f"task {task_id} {status}" + (f": {summary['error']}" if summary.get("error") else ""))
    else:
        _out(f"task {task_id} is {status}")
    _out(ledger_line(summary))
    return 0 if status == "succeeded" else 1


async def transcript_command(task_id: str) -> int:
    """`dals transcript TASK`: the task as Markdown on stdout (what `dals.transcript` answers)."""
    from ..client.transcript import render

    try:
        async with task_service() as service:
            shown = await retrying(lambda: service.show(task_id), timeout=30.0)
    except UnknownTask:
        _err(f"dals transcript: unknown task {task_id!r} (see `dals tasks`)")
        return 2
    except (control.RuntimeError_, RestateUnavailable) as e:
        _err(f"dals transcript: DALS runtime unavailable: {e}")
        return 1
    sys.stdout.write(render(shown))
    return 0
