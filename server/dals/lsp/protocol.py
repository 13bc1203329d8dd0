"""DALS's custom LSP surface in one place: command ids, notification methods, argument models.

Editor clients mirror these names (editor-clients/*). Arguments are validated here, at the edge:
a bad one becomes a JSON-RPC InvalidParams error that names the field.

The argument models need pydantic, about 0.3 s of imports: `dals lsp` must answer `initialize`
without it, so they are defined on first use (`p.StartTaskArgs` works as usual, see
`__getattr__`), which is the first command, after `initialize`.
"""
from __future__ import annotations

from typing import Any, Literal

from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams

START_TASK = "dals.startTask"
LIST_TASKS = "dals.listTasks"
SHOW_TASK = "dals.showTask"
CANCEL_TASK = "dals.cancelTask"
RESUME_TASK = "dals.resumeTask"
ANSWER = "dals.answer"
FOLLOW_UP = "dals.followUp"
STEER = "dals.steer"
TRANSCRIPT = "dals.transcript"
FORK_TASK = "dals.forkTask"
REWIND_TASK = "dals.rewindTask"
UNDO_TASK = "dals.undoTask"
COMMANDS = (START_TASK, LIST_TASKS, SHOW_TASK, CANCEL_TASK, RESUME_TASK, ANSWER, FOLLOW_UP, STEER, TRANSCRIPT,
            FORK_TASK, REWIND_TASK, UNDO_TASK)

TASK_EVENT = "dals/taskEvent"
# server -> client request: `{uri: string | null}` -> `{items: [{uri, diagnostics: [Diagnostic]}]}`,
# the editor's diagnostics for the agent's `diagnostics` tool; clients that answer it set
# `capabilities.experimental.dals.diagnostics = true`
EDITOR_DIAGNOSTICS = "dals/diagnostics"
TASK_DELTA = "dals/taskDelta"


class RequestFailed(JsonRpcException):
    """LSP's RequestFailed (-32803): valid request, but DALS could not do it; the message says why."""

    CODE = -32803
    MESSAGE = "Request failed"


Status = Literal["queued", "running", "waiting", "retrying", "paused", "succeeded", "failed", "cancelled"]
MODELS = ("Args", "Position", "Range", "StartTaskArgs", "ListTasksArgs", "TaskIdArgs", "AnswerArgs",
          "FollowUpArgs", "SteerArgs", "ForkArgs", "RewindArgs", "UndoArgs")


def _define_models() -> dict[str, type]:
    from pydantic import BaseModel, ConfigDict, Field, field_validator

    class Args(BaseModel):
        model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    class Position(Args):
        line: int = Field(ge=0)
        character: int = Field(ge=0)

    class Range(Args):
        start: Position
        end: Position

    class StartTaskArgs(Args):
        prompt: str = Field(min_length=1, max_length=100_000)
        uri: str | None = None
        range: Range | None = None
        mode: Literal["auto", "review"] | None = None  # default: the `dals.approval` setting
        model: str | None = Field(default=None, min_length=1, max_length=200)

    class ListTasksArgs(Args):
        status: list[Status] | None = None

    class TaskIdArgs(Args):
        taskId: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.-]+$")

    class AnswerArgs(TaskIdArgs):
        requestId: str = Field(min_length=1)
        decision: Literal["approve", "reject"]
        comment: str | None = None

        @field_validator("comment")
        @classmethod
        def _short(cls, v: str | None) -> str | None:
            if v is not None and len(v) > 10_000:
                raise ValueError("comment is longer than 10000 characters")
            return v

    class FollowUpArgs(TaskIdArgs):
        prompt: str = Field(min_length=1, max_length=100_000)

    class SteerArgs(TaskIdArgs):
        message: str = Field(min_length=1, max_length=20_000)

    class ForkArgs(TaskIdArgs):
        atSeq: int = Field(ge=1)
        prompt: str | None = Field(default=None, max_length=100_000)

    class RewindArgs(TaskIdArgs):
        toSeq: int = Field(ge=1)
        dryRun: bool = False

    class UndoArgs(TaskIdArgs):
        dryRun: bool = False

    return {name: value for name, value in locals().items() if name in MODELS}


def __getattr__(name: str) -> Any:
    """`Args` and the argument models below it, defined (pydantic imported) on first access."""
    if name in MODELS:
        globals().update(_define_models())
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def parse(model: Any, command: str, args: tuple[Any, ...]) -> Any:
    """The single object argument of `command`, validated; InvalidParams naming the field otherwise."""
    if len(args) != 1 or not isinstance(args[0], dict):
        got = "no argument" if not args else f"{len(args)} arguments" if len(args) > 1 else type(args[0]).__name__
        raise JsonRpcInvalidParams(f"{command} takes one object argument, got {got}")
    from pydantic import ValidationError

    try:
        return model.model_validate(args[0])
    except ValidationError as e:
        first = e.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "argument"
        raise JsonRpcInvalidParams(f"{command}: field '{field}': {first['msg']}",
                                   data={"field": field}) from None
