"""DALS's custom LSP surface: command ids, notification and request methods, and the check of a
command's argument at the edge (a bad one becomes a JSON-RPC InvalidParams error naming the field).

The payloads are typed in `dals.client.contract`; editor clients mirror both (editor-clients/*).
This module imports no pydantic, so `dals lsp` can register the commands before it needs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams

if TYPE_CHECKING:
    from pydantic import BaseModel

    ArgsT = TypeVar("ArgsT", bound=BaseModel)

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
COMMANDS = (
    START_TASK,
    LIST_TASKS,
    SHOW_TASK,
    CANCEL_TASK,
    RESUME_TASK,
    ANSWER,
    FOLLOW_UP,
    STEER,
    TRANSCRIPT,
    FORK_TASK,
    REWIND_TASK,
    UNDO_TASK,
)

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


def parse(model: type[ArgsT], command: str, args: tuple[Any, ...]) -> ArgsT:
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
        raise JsonRpcInvalidParams(f"{command}: field '{field}': {first['msg']}", data={"field": field}) from None
