"""A real LSP client (pytest-lsp's) driving `dals lsp` over stdio, collecting DALS notifications."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Any

from lsprotocol import types
from pytest_lsp import make_test_lsp_client

from .runtime import DALS

TERMINAL = ("succeeded", "failed", "cancelled")


class DalsClient:
    def __init__(self, env: dict[str, str], workspace: Path):
        self.env = env
        self.workspace = workspace
        self.client = make_test_lsp_client()
        self.events: dict[str, list[dict]] = {}
        self.deltas: dict[str, list[dict]] = {}  # dals/taskDelta, per task
        self.arrivals: list[tuple[str, dict]] = []  # ("event" | "delta", payload) in arrival order
        self.changed = asyncio.Condition()

        @self.client.feature("dals/taskEvent")
        async def on_event(params):
            data = _to_dict(params)
            async with self.changed:
                self.events.setdefault(data["taskId"], []).append(data)
                self.arrivals.append(("event", data))
                self.changed.notify_all()

        @self.client.feature("dals/taskDelta")
        async def on_delta(params):
            data = _to_dict(params)
            async with self.changed:
                self.deltas.setdefault(data["taskId"], []).append(data)
                self.arrivals.append(("delta", data))
                self.changed.notify_all()

    @property
    def pid(self) -> int:
        return self.client._server.pid  # the `dals lsp` process

    async def start(
        self, init_options: dict | None = None, position_encodings: list[str] | None = None, experimental: Any = None
    ) -> types.InitializeResult:
        """Initialize; by default every command is allowed (tests of approvals pass their own).
        `position_encodings`: what the client offers (unset: UTF-16 only, as LSP's default);
        `experimental`: the client capabilities' `experimental` (e.g. DALS's diagnostics)."""
        if init_options is None:
            init_options = {"dals": {"commands": {"allow": ["*"]}}}
        await self.client.start_io(DALS, "lsp", env=self.env)
        caps = types.ClientCapabilities(
            window=types.WindowClientCapabilities(work_done_progress=True, show_message=None),
            workspace=types.WorkspaceClientCapabilities(configuration=False, apply_edit=True),
            experimental=experimental,
            text_document=types.TextDocumentClientCapabilities(
                code_action=types.CodeActionClientCapabilities(
                    resolve_support=types.ClientCodeActionResolveOptions(properties=["command"])
                )
            ),
            general=types.GeneralClientCapabilities(position_encodings=position_encodings)
            if position_encodings
            else None,
        )
        return await self.client.initialize_session(
            types.InitializeParams(
                capabilities=caps,
                root_uri=self.workspace.as_uri(),
                process_id=os.getpid(),
                workspace_folders=[types.WorkspaceFolder(uri=self.workspace.as_uri(), name="ws")],
                initialization_options=init_options,
            )
        )

    async def command(self, name: str, *args: Any) -> Any:
        result = await self.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=name, arguments=list(args))
        )
        return _to_dict(result)

    async def wait_event(self, task_id: str, predicate, timeout: float = 60.0) -> list[dict]:
        async def until():
            async with self.changed:
                await self.changed.wait_for(lambda: predicate(self.events.get(task_id, [])))

        await asyncio.wait_for(until(), timeout)
        return self.events[task_id]

    async def wait_finished(self, task_id: str, timeout: float = 90.0) -> list[dict]:
        return await self.wait_event(
            task_id, lambda evs: any(e["status"] in TERMINAL and e["kind"] == "status" for e in evs), timeout
        )

    async def stop(self) -> None:
        try:
            await asyncio.wait_for(self.client.shutdown_session(), 10)
        except Exception:  # noqa: BLE001 - a killed server cannot shut down politely
            pass
        try:
            await asyncio.wait_for(self.client.stop(), 10)
        except Exception:  # noqa: BLE001
            pass

    def kill(self) -> int:
        pid = self.pid
        os.kill(pid, signal.SIGKILL)
        return pid


def _to_dict(value: Any) -> Any:
    """pygls hands custom payloads over as namedtuples ("Object"); tests want plain JSON data."""
    if hasattr(value, "_asdict"):
        return {k: _to_dict(v) for k, v in value._asdict().items()}
    if isinstance(value, dict):
        return {k: _to_dict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_dict(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    from cattrs import Converter

    return Converter().unstructure(value)
