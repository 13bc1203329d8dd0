"""The `dals.*` commands of the contract (workspace/executeCommand).

Registering them needs only their names; what running them needs (the task client and its
HTTP client, the contract's argument models and pydantic) is imported by the first command, after
`initialize`. Each command is one body under `_command`, which validates its argument and maps
the task client's errors.

`dals.listTasks` answers from the task-list cache (`task_list.py`); the commands that change a
task tell it so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pygls.exceptions import JsonRpcInvalidParams
from pygls.uris import to_fs_path

from ..config.settings import DEFAULT_CONTEXT_TOKENS
from . import protocol as p
from .protocol import RequestFailed

if TYPE_CHECKING:
    from ..client import contract as c


def _workspace_for(ls, uri: str | None) -> tuple[Path, str | None]:
    """The workspace root of a task and the workspace-relative path of `uri` (if any)."""
    paths = [to_fs_path(f.uri) for f in ls.workspace.folders.values()] if ls.workspace else []
    folders = [Path(p).resolve() for p in paths if p]  # (a folder that is no file path: none)
    if not folders and ls.workspace and ls.workspace.root_path:
        folders = [Path(ls.workspace.root_path).resolve()]
    if uri is None:
        if not folders:
            raise JsonRpcInvalidParams("dals.startTask: no workspace folder is open; pass 'uri' of a file")
        return folders[0], None
    if not uri.startswith("file:"):
        raise JsonRpcInvalidParams(
            f"dals.startTask: field 'uri': only file: URIs are supported, got {uri!r}", data={"field": "uri"}
        )
    path = Path(to_fs_path(uri) or "").resolve()
    for root in sorted(folders, key=lambda f: len(str(f)), reverse=True):
        if path == root or root in path.parents:
            return root, path.relative_to(root).as_posix()
    raise JsonRpcInvalidParams(f"dals.startTask: field 'uri': {uri} is outside the workspace", data={"field": "uri"})


def _task_list(ls, service):
    """The server's task-list cache, created by the first command that needs it."""
    listing = getattr(ls, "task_list", None)
    if listing is None:
        from .task_list import TaskList

        listing = ls.task_list = TaskList(
            service, lambda: getattr(ls.stream, "summaries", {}) if ls.started("stream") else {}
        )
    return listing


async def _guard(coro):
    from ..client.restate_api import RestateUnavailable
    from ..client.tasks import UnknownTask, WrongState

    try:
        return await coro
    except UnknownTask as e:
        raise JsonRpcInvalidParams(f"unknown task {e.args[0]!r}", data={"field": "taskId"}) from None
    except WrongState as e:
        raise RequestFailed(str(e)) from None
    except RestateUnavailable as e:
        raise RequestFailed(f"DALS runtime unavailable: {e}") from None


def _command(server, name: str, args: str, *, changes: bool = False, default: dict | None = None):
    """Register the body below as command `name`: its one argument validated as the contract's
    model named `args` (client/contract.py, imported by the first command: it needs pydantic),
    the task client's errors mapped (`_guard`), and with `changes` the task list told that a task
    changed. `default`: the argument when the command is sent without one."""

    def register(body: Callable[[Any, Any], Awaitable[Any]]):
        @server.command(name)
        async def run(ls, *given):
            from ..client import contract

            a = p.parse(getattr(contract, args), name, given or ((default,) if default is not None else ()))
            try:
                return await _guard(body(ls, a))
            finally:
                if changes and (listing := getattr(ls, "task_list", None)) is not None:
                    listing.invalidate()

        return body

    return register


def setup(server) -> None:
    @_command(server, p.START_TASK, "StartTaskArgs")
    async def start_task(ls, a: c.StartTaskArgs) -> c.TaskIdResult:
        from ..client.tasks import build_spec

        model = a.model or ls.config.model
        if not model:
            from ..agent.models import HOW_TO_SET

            raise RequestFailed(f"dals.startTask: no model configured: {HOW_TO_SET}")
        context = await asyncio.to_thread(_check_model, model, ls.config.context_max_tokens)
        root, rel = _workspace_for(ls, a.uri)
        service = await ls.task_service()
        spec = build_spec(
            a.prompt,
            root,
            model,
            path=rel,
            range=a.range.model_dump() if a.range else None,
            mode=a.mode or ls.config.approval,
            uri=a.uri,  # the editor's spelling of the URI
            commandsAllow=list(ls.config.commands_allow),
            editor=True,
            approvalTimeoutS=ls.config.approval_timeout_s,
            mcp=await asyncio.to_thread(_mcp_field, ls.config, root),
            context=context,
        )
        await ls.stream.expect(service, spec.taskId)
        task_id = await service.start(spec)
        ls.stream.follow(service, task_id, since=0)
        _task_list(ls, service).started()
        return {"taskId": task_id}

    @_command(server, p.LIST_TASKS, "ListTasksArgs", default={})
    async def list_tasks(ls, a: c.ListTasksArgs) -> c.TaskListResult:
        service = await ls.task_service()
        return {"tasks": await _task_list(ls, service).list(a.status)}

    @_command(server, p.SHOW_TASK, "TaskIdArgs")
    async def show_task(ls, a: c.TaskIdArgs) -> c.ShownTask:
        service = await ls.task_service()
        shown = await service.show(a.taskId)
        if shown["events"]:
            ls.stream.seen(a.taskId, shown["events"][-1]["seq"])
        _task_list(ls, service).shown(shown)
        return shown

    @_command(server, p.CANCEL_TASK, "TaskIdArgs", changes=True)
    async def cancel_task(ls, a: c.TaskIdArgs) -> c.StatusResult:
        service = await ls.task_service()
        return await service.cancel(a.taskId)

    @_command(server, p.RESUME_TASK, "TaskIdArgs", changes=True)
    async def resume_task(ls, a: c.TaskIdArgs) -> c.StatusResult:
        from ..durable.task_status import TERMINAL

        service = await ls.task_service()
        result = await service.resume(a.taskId)
        if result["status"] not in TERMINAL:
            ls.stream.follow(service, a.taskId, since=ls.stream.cursors.get(a.taskId, 0))
        return result

    @_command(server, p.ANSWER, "AnswerArgs", changes=True)
    async def answer(ls, a: c.AnswerArgs) -> c.AnswerResult:
        from ..client.tasks import NoSuchRequest

        service = await ls.task_service()
        try:
            await service.answer(a.taskId, a.requestId, a.decision, a.comment)
        except NoSuchRequest as e:
            raise JsonRpcInvalidParams(f"dals.answer: {e}", data={"field": "requestId"}) from None
        return {"ok": True}


def _mcp_field(config, root: Path):
    from ..agent.mcp_handoff import task_field
    from ..config.settings import state_dir

    return task_field(
        config.mcp_servers,
        config.mcp_problems,
        root,
        config.mcp_workspace_servers,
        config.mcp_allow,
        config.mcp_timeout_s,
        state_dir() / "mcp",
    )


def setup_conversations(server) -> None:
    """dals.followUp, dals.steer, dals.transcript: the task lifecycle's conversation commands."""

    @_command(server, p.FOLLOW_UP, "FollowUpArgs", changes=True)
    async def follow_up(ls, a: c.FollowUpArgs) -> c.FollowUpResult:
        service = await ls.task_service()
        await ls.stream.expect(service, a.taskId)
        sent = await service.follow_up(a.taskId, a.prompt)
        # from where this client is, else from the new turn (the client reads older ones with dals.showTask)
        ls.stream.follow(service, a.taskId, since=ls.stream.cursors.get(a.taskId, sent["since"]), after=sent["since"])
        return {"taskId": a.taskId, "turn": sent["turn"]}

    @_command(server, p.STEER, "SteerArgs")
    async def steer(ls, a: c.SteerArgs) -> c.SteerResult:
        service = await ls.task_service()
        return await service.steer(a.taskId, a.message)

    @_command(server, p.TRANSCRIPT, "TaskIdArgs")
    async def transcript(ls, a: c.TaskIdArgs) -> c.TranscriptResult:
        from ..client.transcript import render

        service = await ls.task_service()
        return {"taskId": a.taskId, "markdown": render(await service.show(a.taskId))}


async def _follow_revert(ls, service, task_id: str) -> None:
    """Follow a finished task through its undo or rewind: files open here are reverted through this
    editor (the task's `editorRequest`s), and its `status` event reaches the client."""
    from ..client.restate_api import RestateUnavailable

    try:
        summary = (await service.events_since(task_id, 1 << 30))["summary"]
    except RestateUnavailable:
        return  # the command itself says what is wrong
    if summary:
        ls.stream.follow(
            service,
            task_id,
            since=ls.stream.cursors.get(task_id, summary["lastSeq"]),
            announce_end=False,
            after=summary["lastSeq"],
        )


def setup_checkpoints(server) -> None:
    """dals.forkTask, dals.rewindTask, dals.undoTask (client/checkpoints.py; Guarantee 8). The
    module (and httpx with it) is imported by the first of them, not at start-up."""

    def checkpoints():
        from ..client import checkpoints

        return checkpoints

    async def guarded(coro):
        try:
            return await coro
        except checkpoints().UnknownSeq as e:
            field = str(e).split(":", 1)[0]
            raise JsonRpcInvalidParams(str(e), data={"field": field}) from None

    @_command(server, p.FORK_TASK, "ForkArgs", changes=True)
    async def fork_task(ls, a: c.ForkArgs) -> c.TaskIdResult:
        service = await ls.task_service()
        got = await guarded(checkpoints().fork(service, a.taskId, a.atSeq, a.prompt))
        ls.stream.follow(service, got["taskId"], since=0)
        return got

    @_command(server, p.REWIND_TASK, "RewindArgs")
    async def rewind_task(ls, a: c.RewindArgs) -> c.RevertResult | c.RevertPreview:
        service = await ls.task_service()
        if not a.dryRun:
            await _follow_revert(ls, service, a.taskId)
        return await guarded(checkpoints().rewind(service, a.taskId, a.toSeq, a.dryRun))

    @_command(server, p.UNDO_TASK, "UndoArgs")
    async def undo_task(ls, a: c.UndoArgs) -> c.RevertResult | c.RevertPreview:
        service = await ls.task_service()
        if not a.dryRun:
            await _follow_revert(ls, service, a.taskId)
        return await guarded(checkpoints().undo(service, a.taskId, a.dryRun))


def _check_model(model: str, context_max_tokens: int | None) -> dict[str, Any]:
    """The model resolves (else a clear error); its context window for the task's spec. pydantic-ai
    stays out of `dals lsp` for the built-in planner, `offline`, which has nothing to check and no
    profile (about 25 MiB of the server's memory)."""
    if model == "offline":  # agent.models.OFFLINE
        if context_max_tokens:
            return {"maxTokens": int(context_max_tokens), "source": "setting"}
        return {"maxTokens": DEFAULT_CONTEXT_TOKENS, "source": "default"}
    from ..agent.models import ModelConfigError, context_window, resolve_model

    try:
        resolve_model(model)
    except ModelConfigError as e:
        raise RequestFailed(f"dals.startTask: {e}") from None
    return context_window(model, context_max_tokens)
