"""What a task is started with, as it crosses into Restate (validated at the edge by the LSP/CLI)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel


class TaskSpec(BaseModel):
    taskId: str
    prompt: str
    title: str
    workspace: str  # absolute path of the workspace root on the worker's machine
    model: str  # fixed for the task's whole life, resumes included
    createdAt: str
    uri: str | None = None
    path: str | None = None  # workspace-relative path of `uri`
    range: dict[str, Any] | None = None
    mode: Literal["auto", "review"] = "auto"
    # Command prefixes that run without asking (["*"]: all). None = the default list: a task posted
    # to the ingress without a policy (by anyone on this machine) does not get to run anything.
    commandsAllow: list[str] | None = None
    approvalTimeoutS: float | None = None  # unanswered approvals are rejected after this; None = wait
    editor: bool = False  # started from an editor: files open there are read and edited through it
    requestLimit: int = 500
    # The id of the state dir of the front end that started the task (see side_channels.py): the
    # worker chooses `wakeup`, `editorLookup` and `notesRead` from it, once. None: a task from
    # before, which carries those three as its front end chose them.
    origin: str | None = None
    # How followers are woken after each summary write (see dals.local.event_wakeups): "feed" (a
    # TaskFeed.publish invocation per write, the only way before hints) or "hint" (a loopback
    # datagram, outside the journal). Fixed for the task's life: it decides what is journaled.
    wakeup: Literal["feed", "hint"] = "feed"
    # Where "which editor has this file open" is read (see dals.local.editor_presence): "restate" (a call
    # to EditorSessions, wherever the worker runs) or "local" (the state dir's registry, in a
    # journaled step: no invocation). Fixed for the task's life, for the same reason.
    editorLookup: Literal["restate", "local"] = "restate"
    # How the task reads outside changes to its files from TaskNotes: "call" (a journaled call, the
    # only way before) or "step" (a journaled step that asks the ingress). A call is a child
    # invocation, which restate-sdk cancels along with the task by writing a command at the point
    # where the task hears the cancel: a replay that hears it at another point (forced replay, a
    # stream Restate had closed) no longer matches its journal. "auto" (a worker elsewhere: the
    # spec's `origin` is not its state dir, see side_channels.py): "step" when the worker reaches
    # the ingress (`DALS_INGRESS_URL`, which `dals up` sets), else "call"; decided in a journaled
    # step. Fixed for the task's life.
    notesRead: Literal["call", "step", "auto"] = "call"
    # MCP servers (see dals.agent.mcp_handoff.spec_field): their names, the `ref` of their stored
    # configuration, `allow`, `timeoutS` and configuration `problems`. Never `env`/`headers` values:
    # this spec is the handler's journaled input.
    mcp: dict[str, Any] | None = None
    # The task keeps its conversation (history, message events, steers, `turns`; see
    # conversation.py). Off for tasks started before conversations: their journals replay as
    # written. Fixed for the task's life, for the same reason.
    conversation: bool = False
    # A fork (`dals.forkTask`): `{taskId, atSeq}` of the task whose conversation up to that event
    # this one starts from (read once, journaled; see task_checkpoints.py). An empty prompt: the
    # fork only takes the conversation, and waits for a follow-up.
    forkedFrom: dict[str, Any] | None = None
    # The context window the model's requests are fitted into (durable/compaction.py): `{maxTokens,
    # source}`, `source` saying where the size came from (`setting`, `model`, `default`). None: no
    # compaction (tasks started before it replay their journals as written). Fixed for the task's life.
    context: dict[str, Any] | None = None


class FollowUp(BaseModel):
    """A new turn of a finished task (`dals.followUp`)."""

    prompt: str
    turn: int  # the turn this is (2 for the first follow-up), as the client saw the task
    at: str | None = None


def task_prompt(spec: TaskSpec) -> str:
    """The user prompt the agent gets: the request plus the editor context it was started from."""
    lines = [spec.prompt.rstrip()]
    if spec.path:
        where = spec.path
        if spec.range:
            start, end = spec.range.get("start", {}), spec.range.get("end", {})
            where += f" (lines {start.get('line', 0) + 1}-{end.get('line', 0) + 1})"
        lines += ["", f"File: {where}"]
    return "\n".join(lines)
