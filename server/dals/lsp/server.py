"""`dals lsp`: the editor-facing language server (pygls 2.x, lsprotocol types).

Holds no task state beyond caches: tasks live in Restate. Ensures the runtime in the background
on start, so `initialize` answers at once. Never writes to stdout except the protocol.

Start-up time: before `initialize` is answered this module imports pygls and lsprotocol (most of
the cost, and unavoidable with pygls) and nothing heavy of its own. The HTTP client, pydantic (the
command arguments), watchfiles and the task stream are imported on first use, after the reply.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from functools import cached_property
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from .. import __version__
from ..client import pricing
from ..config.settings import state_dir
from . import code_actions, commands, protocol, pygls_compat
from .config import Config
from .protocol import RequestFailed
from .pygls_compat import DalsProtocol

if TYPE_CHECKING:
    from ..client.tasks import TaskService
    from .editor_bridge import EditorBridge
    from .file_watch import FileWatch
    from .task_stream import TaskStream

log = logging.getLogger("dals.lsp")
VERSION = __version__
RUNTIME_WAIT = 120.0


class DalsServer(LanguageServer):
    def __init__(self):
        super().__init__("dals", VERSION, protocol_cls=DalsProtocol)
        self.config = Config.from_env()
        self._service: asyncio.Future[TaskService] | None = None
        self._runtime_task: asyncio.Task | None = None
        self.init_options: Any = None  # the client's `initializationOptions`

    # Created on first use (after `initialize`): their modules import httpx, watchfiles, pathspec.
    @cached_property
    def stream(self) -> TaskStream:
        from .task_stream import TaskStream

        return TaskStream(self)

    @cached_property
    def file_watch(self) -> FileWatch:
        from .file_watch import FileWatch

        return FileWatch(self)

    @cached_property
    def editor(self) -> EditorBridge:
        from .editor_bridge import EditorBridge

        return EditorBridge(self)

    def started(self, part: str) -> bool:
        """Whether the lazily created `part` (stream, file_watch, editor) exists yet."""
        return part in self.__dict__

    def ensure_runtime(self) -> asyncio.Future[TaskService]:
        """The task service once the runtime is up (bringing it up on first call)."""
        if self._service is None:
            self._service = asyncio.get_running_loop().create_future()
            self._runtime_task = asyncio.get_running_loop().create_task(self._bring_up(self._service))
        return self._service

    async def _bring_up(self, ready: asyncio.Future[TaskService]) -> None:
        from ..client.restate_api import RestateApi
        from ..client.tasks import TaskService
        from ..runtime import control

        try:
            if self.config.ingress_url and self.config.admin_url:
                os.environ["DALS_RESTATE_INGRESS_URL"] = self.config.ingress_url
                os.environ["DALS_RESTATE_ADMIN_URL"] = self.config.admin_url
            status = await control.up_async(RUNTIME_WAIT)
            api = RestateApi(status["restate"]["ingress"], status["restate"]["admin"])
            service = TaskService(api)
            ready.set_result(service)
            log.info("runtime ready: %s", status["restate"]["ingress"])
            await self._follow_unfinished(service)
        except Exception as e:  # noqa: BLE001 - reported to the user, the server stays up
            log.error("DALS runtime could not start: %s", e)
            if not ready.done():
                ready.set_exception(e)
            self.window_show_message(
                types.ShowMessageParams(type=types.MessageType.Error, message=f"DALS runtime could not start: {e}")
            )

    async def _follow_unfinished(self, service: TaskService) -> None:
        """After a restart of `dals lsp`, live events of unfinished tasks continue from the journal."""
        from ..durable.task_status import TERMINAL

        try:
            tasks = await service.list()
        except Exception as e:  # noqa: BLE001
            log.warning("could not list tasks: %s", e)
            return
        for t in tasks:
            # a task this server started while the list was read has its follower already, from
            # seq 0: following it "from lastSeq" too would skip the events not sent yet
            if t["status"] not in TERMINAL and t["taskId"] not in self.stream.followers:
                self.stream.follow(service, t["taskId"], since=t.get("lastSeq", 0))

    async def task_service(self) -> TaskService:
        service = self.ensure_runtime()
        try:
            return await asyncio.wait_for(asyncio.shield(service), RUNTIME_WAIT)
        except TimeoutError:
            raise RequestFailed(f"DALS runtime not ready after {RUNTIME_WAIT:.0f}s") from None
        except Exception as e:  # noqa: BLE001
            raise RequestFailed(f"DALS runtime unavailable: {e}") from None


class ClientLogHandler(logging.Handler):
    """Forwards warnings and errors to the client as window/logMessage."""

    def __init__(self, server: DalsServer):
        super().__init__(logging.WARNING)
        self.server = server

    def emit(self, record: logging.LogRecord) -> None:
        try:
            kind = types.MessageType.Error if record.levelno >= logging.ERROR else types.MessageType.Warning
            self.server.window_log_message(types.LogMessageParams(type=kind, message=self.format(record)))
        except Exception:  # noqa: BLE001 - logging must never fail the server
            pass


def build_server() -> DalsServer:
    server = DalsServer()

    @server.feature(types.INITIALIZE)
    def initialize(ls: DalsServer, params: types.InitializeParams) -> None:
        ls.init_options = params.initialization_options
        pygls_compat.install(ls.workspace)  # lines split as LSP splits them (see the module)

    @server.feature(types.INITIALIZED)
    async def initialized(ls: DalsServer, params: types.InitializedParams) -> None:
        await _load_settings(ls, getattr(ls, "init_options", None))
        ls.ensure_runtime()
        from .editor_diagnostics import advertised

        if advertised(ls):  # tasks may ask this editor for its diagnostics before it opens a file
            ls.editor.changed()

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(ls: DalsServer, params: types.DidChangeConfigurationParams) -> None:
        ls.config.merge(params.settings)
        _report_problems(ls)
        pricing.configure(ls.config.prices)

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    async def did_change_watched_files(ls: DalsServer, params: types.DidChangeWatchedFilesParams) -> None:
        if ls.started("file_watch"):  # no watcher yet: no task workspace to report changes to
            await ls.file_watch.client_changes(params)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: DalsServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.editor.changed()

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: DalsServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.editor.changed()

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: DalsServer, params) -> None:
        # Answer at once: `exit` may follow immediately. Background work is cancelled, not awaited.
        if ls.started("editor"):
            ls.editor.stop()
        if ls.started("file_watch"):
            ls.file_watch.stop_nowait()
        if ls.started("stream"):
            ls.stream.stop_nowait()

    commands.setup(server)
    commands.setup_conversations(server)
    commands.setup_checkpoints(server)
    code_actions.setup(server)
    return server


async def _load_settings(ls: DalsServer, init_options) -> None:
    """defaults < pyproject [tool.dals] / .dals.toml < environment < initializationOptions <
    workspace/configuration (see docs/configuration.md)."""
    ls.config = Config.for_workspace(ls.workspace.root_path if ls.workspace else None)
    ls.config.merge(init_options)
    caps = ls.client_capabilities
    if caps and caps.workspace and caps.workspace.configuration:
        try:
            got = await asyncio.wait_for(
                ls.workspace_configuration_async(
                    types.ConfigurationParams(items=[types.ConfigurationItem(section="dals")])
                ),
                5,
            )
            if got and isinstance(got[0], dict):
                ls.config.merge(got[0])
        except Exception as e:  # noqa: BLE001 - a client without answers keeps defaults
            log.info("workspace/configuration not answered: %s", e)
    _report_problems(ls)
    pricing.configure(ls.config.prices)


def _report_problems(ls: DalsServer) -> None:
    for problem in ls.config.problems:
        ls.window_show_message(
            types.ShowMessageParams(type=types.MessageType.Warning, message=f"DALS setting ignored: {problem}")
        )
    ls.config.problems.clear()


def _setup_logging(server: DalsServer) -> None:
    fmt = logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s")
    root = logging.getLogger("dals")
    root.setLevel(logging.INFO)
    err = logging.StreamHandler(sys.stderr)
    err.setFormatter(fmt)
    root.addHandler(err)
    try:
        logs = state_dir() / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        f = logging.FileHandler(logs / "lsp.log")
        f.setFormatter(fmt)
        root.addHandler(f)
    except OSError:
        pass
    root.addHandler(ClientLogHandler(server))


_warm: list[DalsServer] = []  # a server built by the fork server before it forks sessions


def warm_imports() -> None:
    """Import what a session loads on its first requests, which `dals lsp` defers to answer
    `initialize` sooner, and build the server: the fork server (runtime/zygote.py) calls this once,
    so a forked session has them all from its first instant. Building it there matters for memory
    too: pygls touches every LSP type while it registers the features, which in a forked process
    (CPython writes the reference count of whatever it touches) copied 11 MiB of shared pages."""
    import httpcore  # noqa: F401 - httpx loads it on the first request
    import pygls.progress  # noqa: F401

    from ..client import restate_api, tasks  # noqa: F401
    from ..runtime import control  # noqa: F401
    from . import editor_diagnostics, task_list  # noqa: F401

    _warm[:] = [build_server()]


def run_stdio() -> int:
    """Serve on stdin/stdout: the fork server's warm server in a forked session, else a new one."""
    server = _warm.pop() if _warm else build_server()
    server.config = Config.from_env()  # this process's environment (a warm one was built in another's)
    _setup_logging(server)
    server.start_io()
    return 0


__all__ = ["build_server", "run_stdio", "warm_imports", "DalsServer", "protocol"]
