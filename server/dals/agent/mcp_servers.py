"""The MCP servers of one worker process: one per server configuration, started on first use,
shared by every task and step, started again on the next call after it died.

Each server is a pydantic-ai `MCPToolset` (no MCP client of DALS's own) entered once, in a task
of its own that keeps it open (pydantic-ai's default `keep_alive` would leave one server per
toolset object behind; a toolset whose server died answers "Connection closed" until it is
entered anew, which is what a restart here does). A stdio server runs under `workspace/reaper.py`,
so it dies with its worker like a command does, with an environment of the minimal base plus its
own `env` (never the worker's provider keys); its stderr goes to `<state dir>/logs/mcp/NAME.log`.

`pydantic_ai.mcp` (about a second to import) is imported by the first server started.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import shutil
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

from ..config.settings import state_dir
from ..workspace.shell import REAPER
from .mcp_config import McpConfigError, describe, expanded, stdio_env

log = logging.getLogger("dals.mcp")
START_TIMEOUT_S = 30.0  # to start and answer `initialize`: its own budget, not mcp.timeoutS (a call's)


class McpServerError(Exception):
    """A server could not be started or reached; the message names it and says why."""


@dataclass
class CallOutcome:
    """What a call came to, as plain data: `ok` with the server's `value`, or an `error` of a
    `kind`: `tool` (the tool said so), `timeout`, `died`, `start`, `protocol`."""

    ok: bool
    value: Any = None
    error: str | None = None
    kind: str | None = None


@dataclass
class _Running:
    toolset: Any
    stop: asyncio.Event
    owner: asyncio.Task
    dead: bool = False
    pid_hint: str = ""


def _reason(error: BaseException) -> str:
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    text = str(error).strip() or type(error).__name__
    return f"{type(error).__name__}: {text}"[:400]


def _key(name: str, cfg: dict[str, Any], timeout_s: float) -> str:
    body = json.dumps([name, cfg, timeout_s], sort_keys=True).encode()
    return hashlib.sha256(body).hexdigest()  # in memory only: never written anywhere


def load_mcp() -> Any:
    """`pydantic_ai.mcp`, imported now (the worker keeps a placeholder in its place until a task
    has MCP servers: `dals.runtime.worker_main._without_mcp`)."""
    current = sys.modules.get("pydantic_ai.mcp")
    if current is not None and getattr(current, "DALS_PLACEHOLDER", False):
        del sys.modules["pydantic_ai.mcp"]
    import pydantic_ai.mcp

    return pydantic_ai.mcp


def build_toolset(name: str, cfg: dict[str, Any], timeout_s: float, environ=None) -> Any:
    """The pydantic-ai toolset for one server (not started). Raises McpConfigError (an unset
    variable) naming the server."""
    MCPToolset = load_mcp().MCPToolset
    environ = os.environ if environ is None else environ
    init = START_TIMEOUT_S
    if cfg["type"] == "http":
        headers = expanded(cfg.get("headers") or {}, environ, f"MCP server {name!r} header")
        return MCPToolset(
            cfg["url"],
            headers=headers or None,
            id=name,
            tool_error_behavior="error",
            init_timeout=init,
            read_timeout=timeout_s,
        )
    from fastmcp.client.transports import StdioTransport

    env = stdio_env(cfg, environ, name)
    if shutil.which(cfg["command"], path=env.get("PATH")) is None:
        raise McpConfigError(f"command {cfg['command']!r} not found (not executable, or not on PATH)")
    if cfg.get("cwd") and not os.path.isdir(cfg["cwd"]):
        raise McpConfigError(f"cwd {cfg['cwd']!r} is not a directory")
    logs = state_dir() / "logs" / "mcp"
    logs.mkdir(parents=True, exist_ok=True)
    # the reaper kills the server (and all it started) when this worker dies, even mid-call
    argv = [
        "-S",
        "-E",
        REAPER,
        "--parent",
        str(os.getpid()),
        "--parent-thread",
        str(threading.get_native_id()),
        *(["--unset", "LC_CTYPE"] if "LC_CTYPE" not in env else []),
        "--",
        cfg["command"],
        *cfg.get("args", []),
    ]
    transport = StdioTransport(
        sys.executable, argv, env=env, cwd=cfg.get("cwd") or None, keep_alive=False, log_file=logs / f"{name}.log"
    )
    return MCPToolset(transport, id=name, tool_error_behavior="error", init_timeout=init, read_timeout=timeout_s)


@dataclass
class ServerPool:
    """This process's running servers, by configuration."""

    running: dict[str, _Running] = field(default_factory=dict)
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    async def server(self, name: str, cfg: dict[str, Any], timeout_s: float) -> _Running:
        """The running server for this configuration, started (again) if needed."""
        key = _key(name, cfg, timeout_s)
        async with self.locks.setdefault(key, asyncio.Lock()):
            r = self.running.get(key)
            if r is not None and not r.dead and not r.owner.done():
                return r
            if r is not None:
                await self._stop(r)
                log.info("MCP server %r: starting it again", name)
            r = self.running[key] = await self._start(name, cfg, timeout_s)
            return r

    async def _start(self, name: str, cfg: dict[str, Any], timeout_s: float) -> _Running:
        try:
            toolset = build_toolset(name, cfg, timeout_s)
        except McpConfigError as e:
            raise McpServerError(f"MCP server {name!r} was not started: {e}") from None
        except Exception as e:  # a transport pydantic-ai refuses
            raise McpServerError(f"MCP server {name!r} was not started: {_reason(e)}") from None
        ready: asyncio.Future = asyncio.get_running_loop().create_future()
        stop = asyncio.Event()

        async def own() -> None:  # enter and exit in one task (anyio's cancel scopes need it)
            try:
                async with toolset:
                    ready.set_result(None)
                    await stop.wait()
            except BaseException as e:  # noqa: BLE001 - a server's end must not escape its task
                if not ready.done():
                    ready.set_exception(e if isinstance(e, Exception) else RuntimeError(repr(e)))
                elif not isinstance(e, asyncio.CancelledError):
                    log.info("MCP server %r closed: %s", name, _reason(e))

        owner = asyncio.get_running_loop().create_task(own(), name=f"mcp-server-{name}")
        try:
            await asyncio.wait_for(asyncio.shield(ready), START_TIMEOUT_S + 5)
        except BaseException as e:
            stop.set()
            owner.cancel()
            if isinstance(e, asyncio.CancelledError):
                raise
            why = "no answer to initialize in time" if isinstance(e, asyncio.TimeoutError) else _reason(e)
            log.warning("MCP server %r (%s) did not start: %s", name, describe(cfg), why)
            raise McpServerError(f"MCP server {name!r} did not start ({describe(cfg)}): {why}") from None
        log.info("MCP server %r started (%s)", name, describe(cfg))
        return _Running(toolset, stop, owner)

    async def _stop(self, r: _Running) -> None:
        r.stop.set()
        try:
            await asyncio.wait_for(asyncio.shield(r.owner), 5)
        except BaseException:  # noqa: BLE001 - a dead server's teardown may fail in many ways
            r.owner.cancel()

    async def tools(self, name: str, cfg: dict[str, Any], timeout_s: float, ctx: Any) -> list[dict[str, Any]]:
        """The server's tools as plain data (`name`, `description`, `parameters`)."""
        r = await self.server(name, cfg, timeout_s)
        try:
            found = await asyncio.wait_for(r.toolset.get_tools(ctx), timeout_s)
        except Exception as e:
            r.dead = True
            raise McpServerError(f"MCP server {name!r} did not list its tools: {_reason(e)}") from None
        return [
            {
                "name": t.tool_def.name,
                "description": t.tool_def.description or "",
                "parameters": t.tool_def.parameters_json_schema,
            }
            for t in found.values()
        ]

    async def call(
        self, name: str, cfg: dict[str, Any], timeout_s: float, tool: str, args: dict[str, Any]
    ) -> CallOutcome:
        """Call `tool`; every failure comes back as a CallOutcome naming the server."""
        from fastmcp.exceptions import ToolError
        from mcp.shared.exceptions import MCPError

        try:
            r = await self.server(name, cfg, timeout_s)
        except McpServerError as e:
            return CallOutcome(
                False, error=f"{e}. It is started again at the next call to one of its tools.", kind="start"
            )
        try:
            # the client's own timeout (read_timeout) answers first; this one is a backstop
            value = await asyncio.wait_for(r.toolset.direct_call_tool(tool, args), timeout_s + 10)
        except ToolError as e:
            return CallOutcome(False, error=str(e) or f"{tool} failed", kind="tool")
        except (TimeoutError, MCPError) as e:
            if isinstance(e, asyncio.TimeoutError) or "timed out" in str(e):
                if isinstance(e, asyncio.TimeoutError):
                    r.dead = True
                return CallOutcome(
                    False,
                    kind="timeout",
                    error=(
                        f"MCP server {name!r} did not answer {tool} within {timeout_s:g} s (mcp.timeoutS). "
                        "The call may still be running in the server: check its effect before calling again."
                    ),
                )
            if "closed" in str(e).lower():
                r.dead = True
                return CallOutcome(
                    False,
                    kind="died",
                    error=(
                        f"MCP server {name!r} closed the connection during {tool} (it died?); it is started again at "
                        "the next call. The call may or may not have had its effect."
                    ),
                )
            return CallOutcome(False, error=f"MCP server {name!r}: {_reason(e)}", kind="protocol")
        except Exception as e:  # an HTTP server gone, a broken pipe: reconnect at the next call
            r.dead = True
            return CallOutcome(False, error=f"MCP server {name!r} failed during {tool}: {_reason(e)}", kind="died")
        return CallOutcome(True, value=value)

    async def close(self) -> None:
        for r in list(self.running.values()):
            await self._stop(r)
        self.running.clear()


POOL = ServerPool()  # one per worker process
