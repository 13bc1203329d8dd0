"""The `dals.*` commands of the contract (workspace/executeCommand).

Registering them needs only their names; what running them needs (the task client and its
HTTP client, pydantic for the arguments) is imported by the first command, after `initialize`.

`dals.listTasks` answers from the task-list cache (`task_list.py`); the commands that change a
task tell it so.
"""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from pygls.exceptions import JsonRpcInvalidParams
from pygls.uris import to_fs_path

from . import protocol as p
from .protocol import RequestFailed


def _workspace_for(ls, uri: str | None) -> tuple[Path, str | None]:
    """The workspace root of a task and the workspace-relative path of `uri` (if any)."""
    folders = [Path(to_fs_path(f.uri)).resolve() for f in ls.workspace.folders.values()] if ls.workspace else []
    if not folders and ls.workspace and ls.workspace.root_path:
        folders = [Path(ls.workspace.root_path).resolve()]
    if uri is None:
        if not folders:
            raise JsonRpcInvalidParams("dals.startTask: no workspace folder is open; pass 'uri' of a file")
        return folders[0], None
    if not uri.startswith("file:"):
        raise JsonRpcInvalidParams(f"dals.startTask: field 'uri': only file: URIs are supported, got {uri!r}",
                                   data={"field": "uri"})
    path = Path(to_fs_path(uri) or "").resolve()
    for root in sorted(folders, key=lambda f: len(str(f)), reverse=True):
        if path == root or root in path.parents:
            return root, path.relative_to(root).as_posix()
    raise JsonRpcInvalidParams(f"dals.startTask: field 'uri': {uri} is outside the workspace",
                               data={"field": "uri"})


def _task_list(ls, service):
    """The server's task-list cache, created by the first command that needs it."""
    listing = getattr(ls, "task_list", None)
    if listing is None:
        from .task_list import TaskList

        listing = ls.task_list = TaskList(
            service, lambda: getattr(ls.stream, "summaries", {}) if ls.started("stream") else {})
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


def setup(server) -> None:
    @server.command(p.START_TASK)
    async def start_task(ls, *args):
        from ..client.tasks import build_spec

        a = p.parse(p.StartTaskArgs, p.START_TASK, args)
        model = a.model or ls.config.model
        if not model:
            from ..agent.models import HOW_TO_SET

            raise RequestFailed(f"dals.startTask: no model configured: {HOW_TO_SET}")
        context = await asyncio.to_thread(_check_model, model, ls.config.context_max_tokens)
        root, rel = _workspace_for(ls, a.uri)
        service = await ls.task_service()
        spec = build_spec(a.prompt, root, model, path=rel,
                          range=a.range.model_dump() if a.range else None, mode=a.mode or ls.config.approval,
                          context=context)
        spec["uri"] = a.uri  # keep the editor's spelling of the URI
        spec["commandsAllow"] = list(ls.config.commands_allow)
        spec["editor"] = True
        spec["approvalTimeoutS"] = ls.config.approval_timeout_s
        spec["mcp"] = await asyncio.to_thread(_mcp_field, ls.config, root)
        task_id = await _guard(service.start(spec))
        ls.stream.follow(service, task_id, since=0)
        _task_list(ls, service).started()
        return {"taskId": task_id}

    @server.command(p.LIST_TASKS)
    async def list_tasks(ls, *args):
        a = p.parse(p.ListTasksArgs, p.LIST_TASKS, args or ({},))
        service = await ls.task_service()
        return {"tasks": await _guard(_task_list(ls, service).list(a.status))}

    @server.command(p.SHOW_TASK)
    async def show_task(ls, *args):
        a = p.parse(p.TaskIdArgs, p.SHOW_TASK, args)
        service = await ls.task_service()
        shown = await _guard(service.show(a.taskId))
        if shown["events"]:
            ls.stream.seen(a.taskId, shown["events"][-1]["seq"])
        _task_list(ls, service).shown(shown)
        return shown

    @server.command(p.CANCEL_TASK)
    async def cancel_task(ls, *args):
        a = p.parse(p.TaskIdArgs, p.CANCEL_TASK, args)
        service = await ls.task_service()
        try:
            return await _guard(service.cancel(a.taskId))
        finally:
            _task_list(ls, service).invalidate()

    @server.command(p.RESUME_TASK)
    async def resume_task(ls, *args):
        from ..client.tasks import TERMINAL

        a = p.parse(p.TaskIdArgs, p.RESUME_TASK, args)
        service = await ls.task_service()
        try:
            result = await _guard(service.resume(a.taskId))
        finally:
            _task_list(ls, service).invalidate()
        if result["status"] not in TERMINAL:
            ls.stream.follow(service, a.taskId, since=ls.stream.cursors.get(a.taskId, 0))
        return result

    @server.command(p.ANSWER)
    async def answer(ls, *args):
        from ..client.tasks import NoSuchRequest

        a = p.parse(p.AnswerArgs, p.ANSWER, args)
        service = await ls.task_service()
        try:
            await _guard(service.answer(a.taskId, a.requestId, a.decision, a.comment))
        except NoSuchRequest as e:
            raise JsonRpcInvalidParams(f"dals.answer: {e}", data={"field": "requestId"}) from None
        finally:
            _task_list(ls, service).invalidate()
        return {"ok": True}


def _mcp_field(config, root: Path):
    from ..agent.mcp_handoff import task_field
    from ..settings import state_dir

    return task_field(config.mcp_servers, config.mcp_problems, root, config.mcp_workspace_servers,
                      config.mcp_allow, config.mcp_timeout_s, state_dir() / "mcp")


def setup_conversations(server) -> None:
    """dals.followUp, dals.steer, dals.transcript: the task lifecycle's conversation commands."""

    @server.command(p.FOLLOW_UP)
    async def follow_up(ls, *args):
        a = p.parse(p.FollowUpArgs, p.FOLLOW_UP, args)
        service = await ls.task_service()
        try:
            sent = await _guard(service.follow_up(a.taskId, a.prompt))
        finally:
            _task_list(ls, service).invalidate()
        # from where this client is, else from the new turn (the client reads older ones with dals.showTask)
        ls.stream.follow(service, a.taskId, since=ls.stream.cursors.get(a.taskId, sent["since"]), after=sent["since"])
        return {"taskId": a.taskId, "turn": sent["turn"]}

    @server.command(p.STEER)
    async def steer(ls, *args):
        a = p.parse(p.SteerArgs, p.STEER, args)
        service = await ls.task_service()
        return await _guard(service.steer(a.taskId, a.message))

    @server.command(p.TRANSCRIPT)
    async def transcript(ls, *args):
        from ..client.transcript import render

        a = p.parse(p.TaskIdArgs, p.TRANSCRIPT, args)
        service = await ls.task_service()
        shown = await _guard(service.show(a.taskId))
        return {"taskId": a.taskId, "markdown": render(shown)}


async def _follow_revert(ls, service, task_id: str) -> None:
    """Follow a finished task through its undo or rewind: files open here are reverted through this
    editor (the task's `editorRequest`s), and its `status` event reaches the client."""
    from ..client.restate_api import RestateUnavailable

    try:
        summary = (await service.events_since(task_id, 1 << 30))["summary"]
    except RestateUnavailable:
        return  # the command itself says what is wrong
    if summary:
        ls.stream.follow(service, task_id, since=ls.stream.cursors.get(task_id, summary["lastSeq"]),
                         announce_end=False, after=summary["lastSeq"])


def setup_checkpoints(server) -> None:
    """dals.forkTask, dals.rewindTask, dals.undoTask (client/checkpoints.py; Guarantee 8)."""
    from ..client import checkpoints

    async def guarded(coro):
        try:
            return await _guard(coro)
        except checkpoints.UnknownSeq as e:
            field = str(e).split(":", 1)[0]
            raise JsonRpcInvalidParams(str(e), data={"field": field}) from None

    @server.command(p.FORK_TASK)
    async def fork_task(ls, *args):
        a = p.parse(p.ForkArgs, p.FORK_TASK, args)
        service = await ls.task_service()
        try:
            got = await guarded(checkpoints.fork(service, a.taskId, a.atSeq, a.prompt))
        finally:
            _task_list(ls, service).invalidate()
        ls.stream.follow(service, got["taskId"], since=0)
        return got

    @server.command(p.REWIND_TASK)
    async def rewind_task(ls, *args):
        a = p.parse(p.RewindArgs, p.REWIND_TASK, args)
        service = await ls.task_service()
        if not a.dryRun:
            await _follow_revert(ls, service, a.taskId)
        return await guarded(checkpoints.rewind(service, a.taskId, a.toSeq, a.dryRun))

    @server.command(p.UNDO_TASK)
    async def undo_task(ls, *args):
        a = p.parse(p.UndoArgs, p.UNDO_TASK, args)
        service = await ls.task_service()
        if not a.dryRun:
            await _follow_revert(ls, service, a.taskId)
        return await guarded(checkpoints.undo(service, a.taskId, a.dryRun))


def _check_model(model: str, context_max_tokens: int | None) -> dict[str, Any]:
    """The model resolves (else a clear error); its context window for the task's spec."""
    from ..agent.models import ModelConfigError, context_window, resolve_model

    try:
        resolve_model(model)
    except ModelConfigError as e:
        raise RequestFailed(f"dals.startTask: {e}") from None
    return context_window(model, context_max_tokens)
