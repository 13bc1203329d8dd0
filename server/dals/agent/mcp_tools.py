"""The MCP servers' tools as one toolset of the agent, named `mcp__<server>__<tool>`, each call
going through the task's step runner like the built-in tools (so journaled, on Restate, once).

- The tool list is read once per turn, in one step (`list MCP tools`): every later step, and every
  replay, offers and routes exactly the same names, whether a server is up then or not. A server
  that is down when a later turn lists them keeps the tools it gave earlier in the task (`known`,
  kept by the durable layer): its tools stay offered and each call is a tool error naming it.
- A call outside `mcp.allow` waits for the user's approval first (`runner.ask`, `action: "mcp"`).
- A call is one step whose value is what it came to: the server's answer, or an error of the tool,
  a timeout, a server that died or did not start. Errors reach the model as a failed tool result
  (`ToolFailed`, not a retry), servers' failures also as a `log` event; the task goes on.

Nothing here imports `pydantic_ai.mcp` (see `mcp_servers`).
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from typing import Any

import pydantic_core
from pydantic_ai import RunContext
from pydantic_ai.exceptions import ToolFailed
from pydantic_ai.messages import BinaryContent
from pydantic_ai.tools import ToolDefinition
from pydantic_ai.toolsets.abstract import AbstractToolset, ToolsetTool
from pydantic_core import to_jsonable_python

from .deps import TaskDeps, now_iso
from .mcp_config import split_tool_name, tool_allowed, tool_name
from .mcp_servers import POOL, ServerPool

ARGS_VALIDATOR = pydantic_core.SchemaValidator(
    pydantic_core.core_schema.dict_schema(
        pydantic_core.core_schema.str_schema(), pydantic_core.core_schema.any_schema()
    )
)
LIST_STEP = "list MCP tools"
PREVIEW = 300
MAX_ANSWER_CHARS = 500_000  # what one call may put in the journal (and the model's context)


def _short(value: Any, n: int = PREVIEW) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= n else text[:n] + f"… [{len(text) - n} more chars]"


def _preview(value: Any, n: int = 200) -> Any:
    """An argument for an event: as it is when short, else a cut text of it."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return value if len(text) <= n else _short(text, n)


def to_plain(value: Any) -> Any:
    """A server's answer as JSON data for the journal (images and audio as base64)."""
    if isinstance(value, BinaryContent):
        return {"$binary": {"data": base64.b64encode(value.data).decode(), "mediaType": value.media_type}}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    return to_jsonable_python(value, fallback=str)


def capped(plain: Any) -> Any:
    """An answer too large for the journal becomes its beginning (text) or a note saying so."""
    text = plain if isinstance(plain, str) else json.dumps(plain, ensure_ascii=False)
    if len(text) <= MAX_ANSWER_CHARS:
        return plain
    note = f"[the server's answer was {len(text)} characters; only the first {MAX_ANSWER_CHARS} are kept: ask for less]"
    return text[:MAX_ANSWER_CHARS] + "\n" + note if isinstance(plain, str) else note


def from_plain(value: Any) -> Any:
    """`to_plain` undone: what the model gets, from the journal."""
    if isinstance(value, dict) and set(value) == {"$binary"}:
        b = value["$binary"]
        return BinaryContent(data=base64.b64decode(b["data"]), media_type=b["mediaType"])
    if isinstance(value, list):
        return [from_plain(v) for v in value]
    return value


def with_known(
    listed: dict[str, dict[str, Any]], known: dict[str, list[dict[str, Any]]]
) -> tuple[dict[str, dict[str, Any]], dict[str, list]]:
    """This turn's listing with a down server's tools from earlier in the task (`known`), and the
    tool lists to keep for the next turns. Pure: both inputs come from the journal."""
    merged, keep = {}, dict(known)
    for name, entry in listed.items():
        if entry["ok"]:
            keep[name] = entry["tools"]
            merged[name] = entry
        elif name in known:
            merged[name] = entry | {"tools": known[name], "kept": True}
        else:
            merged[name] = entry
    return merged, keep


class McpTools(AbstractToolset[TaskDeps]):
    """One turn's MCP tools: `servers` by name (their whole configuration, in memory only),
    `unavailable` (name → why there is no configuration for it on this worker), `known` (each
    server's tools as listed earlier in the task) and `remember` (keeps them for the next turns)."""

    def __init__(
        self,
        servers: dict[str, dict[str, Any]],
        unavailable: dict[str, str],
        allow: list[str],
        timeout_s: float,
        pool: ServerPool = POOL,
        known: dict[str, list[dict[str, Any]]] | None = None,
        remember: Callable[[dict[str, list[dict[str, Any]]]], None] | None = None,
    ):
        self.servers = servers
        self.unavailable = unavailable
        self.allow = allow
        self.timeout_s = timeout_s
        self.pool = pool
        self.known = dict(known or {})
        self.remember = remember
        self.listed: dict[str, dict[str, Any]] | None = None  # name → {"ok", "tools" | "error", "kept"?}
        self._lock = asyncio.Lock()

    @property
    def id(self) -> str:
        return "dals-mcp"

    async def _list_all(self, ctx: RunContext[TaskDeps]) -> dict[str, Any]:
        async def one(name: str) -> dict[str, Any]:
            if name in self.unavailable:
                return {"ok": False, "error": f"MCP server {name!r}: {self.unavailable[name]}"}
            try:
                return {"ok": True, "tools": await self.pool.tools(name, self.servers[name], self.timeout_s, ctx)}
            except Exception as e:  # McpServerError, or anything a broken server brings
                return {"ok": False, "error": str(e)}

        names = sorted({*self.servers, *self.unavailable})
        found = await asyncio.gather(*(one(n) for n in names))
        return {"servers": dict(zip(names, found)), "at": now_iso()}

    async def get_tools(self, ctx: RunContext[TaskDeps]) -> dict[str, ToolsetTool[TaskDeps]]:
        async with self._lock:
            if self.listed is None:
                out = await ctx.deps.runner.step(LIST_STEP, lambda: self._list_all(ctx))
                self.listed, keep = with_known(out["servers"], self.known)
                if self.remember is not None and keep != self.known:
                    self.remember(keep)
                for name, entry in self.listed.items():
                    if entry["ok"]:
                        continue
                    said = (
                        "its tools from earlier in the task stay offered; each call is an error until it starts"
                        if entry.get("kept")
                        else "its tools are left out"
                    )
                    ctx.deps.runner.event(
                        "log",
                        f"MCP server {name} unavailable: {said}",
                        {"server": name, "error": entry["error"]},
                        out["at"],
                    )
        tools: dict[str, ToolsetTool[TaskDeps]] = {}
        for server, entry in self.listed.items():
            for t in entry.get("tools") or ():
                name = tool_name(server, t["name"])
                tools[name] = ToolsetTool(
                    toolset=self,
                    max_retries=ctx.max_retries,
                    args_validator=ARGS_VALIDATOR,
                    tool_def=ToolDefinition(
                        name=name, description=t["description"], parameters_json_schema=t["parameters"], sequential=True
                    ),
                )
        return tools

    async def get_instructions(self, ctx: RunContext[TaskDeps]) -> str | None:
        listed = (self.listed or {}).items()
        missing = [f"{n} ({e['error']})" for n, e in listed if not e["ok"] and not e.get("kept")]
        kept = [f"{n} ({e['error']})" for n, e in listed if not e["ok"] and e.get("kept")]
        said = []
        if missing:
            said.append(
                "These MCP servers are unavailable in this task, so their tools are missing: " + "; ".join(missing)
            )
        if kept:
            said.append(
                "These MCP servers are down for now (each call to their tools tries to start them again, "
                "and fails while they are down): " + "; ".join(kept)
            )
        return "\n".join(said) or None

    async def call_tool(
        self, name: str, tool_args: dict[str, Any], ctx: RunContext[TaskDeps], tool: ToolsetTool[TaskDeps]
    ) -> Any:
        d = ctx.deps
        server, remote = split_tool_name(name) or ("", name)
        detail = {"server": server, "tool": remote, "arguments": {k: _preview(v) for k, v in tool_args.items()}}
        if not tool_allowed(name, self.allow):
            answer = await d.runner.ask(
                {
                    "action": "mcp",
                    "tool": name,
                    "server": server,
                    "arguments": tool_args,
                    "question": f"Call {name}({_short(tool_args, 200)})? It is not in mcp.allow.",
                }
            )
            if answer.get("decision") != "approve":
                comment = (answer.get("comment") or "").strip()
                said = f": {comment}" if comment else ""
                raise ToolFailed(f"rejected by the user{said}; the tool was not called")

        async def act() -> dict[str, Any]:
            if server not in self.servers:
                why = self.unavailable.get(server, "not configured")
                return {"ok": False, "kind": "start", "error": f"MCP server {server!r}: {why}", "at": now_iso()}
            got = await self.pool.call(server, self.servers[server], self.timeout_s, remote, tool_args)
            return {
                "ok": got.ok,
                "value": capped(to_plain(got.value)) if got.ok else None,
                "error": got.error,
                "kind": got.kind,
                "at": now_iso(),
            }

        out = await d.runner.step(name, act)
        if out["ok"]:
            d.runner.event("tool", name, detail | {"result": _short(out["value"])}, out["at"])
            return from_plain(out["value"])
        d.runner.event("tool", f"{name} failed", detail | {"error": out["error"], "errorKind": out["kind"]}, out["at"])
        if out["kind"] != "tool":
            d.runner.event(
                "log", f"MCP server {server}: {out['kind']}", {"server": server, "error": out["error"]}, out["at"]
            )
        raise ToolFailed(out["error"])
