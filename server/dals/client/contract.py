"""The payloads of DALS's LSP contract (DESIGN.md, docs/protocol.md), typed once.

Command arguments are pydantic models: `dals lsp` validates them at the edge (`lsp/protocol.parse`),
and a bad one becomes an InvalidParams error naming the field. Results, summaries, events and
notifications are TypedDicts: plain JSON objects, as they travel. The method names are in
`lsp/protocol.py`.

`editor-clients/vscode/src/protocol.ts` mirrors every class here under the same name with the same
fields (optional there exactly when optional here); tests/unit/client/test_contract_mirror.py
checks both ways. Importing this module imports pydantic: `dals lsp` does it with the first command.

No `from __future__ import annotations` here: TypedDict must see `NotRequired` to know which keys
are optional (Python 3.11).
"""

from typing import Any, Literal, NotRequired, TypedDict

from pydantic import BaseModel, ConfigDict, Field, field_validator

Status = Literal["queued", "running", "waiting", "retrying", "paused", "succeeded", "failed", "cancelled"]
EventKind = Literal["status", "model", "tool", "edit", "approval", "log", "message"]
Mode = Literal["auto", "review"]
Decision = Literal["approve", "reject"]


# ---- command arguments (one object per command) ----


class Args(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class Position(Args):
    line: int = Field(ge=0)
    character: int = Field(ge=0)


class Range(Args):
    start: Position
    end: Position


class StartTaskArgs(Args):
    """`dals.startTask`."""

    prompt: str = Field(min_length=1, max_length=100_000)
    uri: str | None = None
    range: Range | None = None
    mode: Mode | None = None  # default: the `dals.approval` setting
    model: str | None = Field(default=None, min_length=1, max_length=200)


class ListTasksArgs(Args):
    """`dals.listTasks`."""

    status: list[Status] | None = None


class TaskIdArgs(Args):
    """`dals.showTask`, `dals.cancelTask`, `dals.resumeTask`, `dals.transcript`."""

    taskId: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.-]+$")


class AnswerArgs(TaskIdArgs):
    """`dals.answer`."""

    requestId: str = Field(min_length=1)
    decision: Decision
    comment: str | None = None

    @field_validator("comment")
    @classmethod
    def _short(cls, v: str | None) -> str | None:
        if v is not None and len(v) > 10_000:
            raise ValueError("comment is longer than 10000 characters")
        return v


class FollowUpArgs(TaskIdArgs):
    """`dals.followUp`."""

    prompt: str = Field(min_length=1, max_length=100_000)


class SteerArgs(TaskIdArgs):
    """`dals.steer`."""

    message: str = Field(min_length=1, max_length=20_000)


class ForkArgs(TaskIdArgs):
    """`dals.forkTask`."""

    atSeq: int = Field(ge=1)
    prompt: str | None = Field(default=None, max_length=100_000)


class RewindArgs(TaskIdArgs):
    """`dals.rewindTask`."""

    toSeq: int = Field(ge=1)
    dryRun: bool = False


class UndoArgs(TaskIdArgs):
    """`dals.undoTask`."""

    dryRun: bool = False


# ---- the task summary ----


class Usage(TypedDict):
    requests: int
    inputTokens: NotRequired[int]
    outputTokens: NotRequired[int]
    toolCalls: NotRequired[int]
    replayedRequests: NotRequired[int]  # answered from the journal instead of the provider
    replayedInputTokens: NotRequired[int]
    replayedOutputTokens: NotRequired[int]
    costUsd: NotRequired[float | None]  # None: the model's price is unknown
    savedUsd: NotRequired[float | None]


class LastEvent(TypedDict):
    seq: int
    kind: str
    title: str
    at: str


class ForkedFrom(TypedDict):
    taskId: str
    atSeq: int


class ApprovalRequest(TypedDict):
    """What a `waiting` task asks (the summary's `pending`, the detail of its `approval` event)."""

    requestId: str
    action: str  # "edit", "command", "mcp"
    question: NotRequired[str | None]
    tool: NotRequired[str | None]  # the tool asking (an MCP tool: `mcp__<server>__<tool>`)
    path: NotRequired[str | None]  # action "edit": the file
    diff: NotRequired[str | None]  # action "edit": the unified diff of the change
    proposed: NotRequired[str | None]  # action "edit": the file's whole text after the change
    command: NotRequired[str | None]  # action "command"
    cwd: NotRequired[str | None]
    server: NotRequired[str | None]  # action "mcp"
    arguments: NotRequired[dict[str, Any] | None]
    awakeableId: NotRequired[str]


class ApprovalAnswer(TypedDict):
    """The detail of the `approval` event that records an answer."""

    requestId: str
    decision: Decision
    comment: NotRequired[str]


class TaskSummary(TypedDict):
    taskId: str
    title: str
    prompt: str
    workspace: NotRequired[str]  # absent only for a task started elsewhere and not recorded yet
    status: Status
    createdAt: NotRequired[str]
    updatedAt: NotRequired[str]
    steps: int
    turns: int
    usage: Usage
    usageLine: str  # the usage in words, the same in every client (see client/usage_line.py)
    lastEvent: LastEvent | None
    forkedFrom: NotRequired[ForkedFrom]
    lastSeq: NotRequired[int]
    uri: NotRequired[str | None]
    mode: NotRequired[Mode]
    model: NotRequired[str]
    filesChanged: NotRequired[list[str]]
    result: NotRequired[str | None]
    error: NotRequired[str | None]
    lastFailure: NotRequired[str | None]  # while `retrying` or `paused`: why
    failure: NotRequired[dict[str, Any]]  # a failure no retry fixes: {kind, code, retryable, message, fix}
    pending: NotRequired[ApprovalRequest | None]
    invocationId: str | None


# ---- events and notifications ----


class TaskEvent(TypedDict):
    """One journaled step of a task (`dals.showTask`'s `events`); `detail` depends on `kind`
    (docs/protocol.md, "Kinds and their detail"): an `approval` event's is an ApprovalRequest or an
    ApprovalAnswer, a `message` event's a MessageDetail."""

    taskId: str
    seq: int
    kind: EventKind
    title: str
    status: Status
    at: str
    detail: NotRequired[dict[str, Any]]


class TaskEventNotice(TaskEvent):
    """`dals/taskEvent`: the event and the task's summary as this server last read it (its `lastSeq`
    is at least the event's `seq`: later when several events were read at once)."""

    summary: TaskSummary


class MessageDetail(TypedDict):
    role: Literal["user", "assistant"]
    text: str
    turn: NotRequired[int]
    steer: NotRequired[bool]


class TaskDelta(TypedDict):
    """`dals/taskDelta`: live text of the model response that will become event `seq` (not journaled)."""

    taskId: str
    seq: int
    text: str


class EditorDiagnosticsParams(TypedDict):
    """`dals/diagnostics` (server -> client request): one file's diagnostics, or every open file's."""

    uri: str | None


class EditorDiagnosticsItem(TypedDict):
    uri: str
    diagnostics: list[dict[str, Any]]  # LSP Diagnostic objects


class EditorDiagnosticsResult(TypedDict):
    items: list[EditorDiagnosticsItem]


# ---- command results ----


class TaskIdResult(TypedDict):
    """`dals.startTask`, `dals.forkTask`."""

    taskId: str


class TaskListResult(TypedDict):
    """`dals.listTasks`."""

    tasks: list[TaskSummary]


class ShownTask(TaskSummary):
    """`dals.showTask`."""

    events: list[TaskEvent]


class StatusResult(TypedDict):
    """`dals.cancelTask`, `dals.resumeTask`."""

    taskId: str
    status: Status


class AnswerResult(TypedDict):
    """`dals.answer`."""

    ok: bool


class FollowUpResult(TypedDict):
    """`dals.followUp`."""

    taskId: str
    turn: int


class SteerResult(TypedDict):
    """`dals.steer`."""

    taskId: str
    queued: bool


class TranscriptResult(TypedDict):
    """`dals.transcript`."""

    taskId: str
    markdown: str


class Skipped(TypedDict):
    path: str
    reason: str


class RevertResult(TypedDict):
    """`dals.undoTask`, `dals.rewindTask`: what was reverted, and what was left alone and why."""

    taskId: str
    reverted: list[str]
    skipped: list[Skipped]
    toSeq: NotRequired[int]
    commands: NotRequired[list[str]]  # commands run after the point: not undone


class RevertPreview(TypedDict):
    """`dals.undoTask`, `dals.rewindTask` with `dryRun`: what would be reverted; nothing is done."""

    taskId: str
    dryRun: Literal[True]
    revert: list[str]
    commands: list[str]
    toSeq: NotRequired[int]
