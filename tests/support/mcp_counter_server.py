"""A small MCP server on the `mcp` package (2.x) for the MCP tests: every call of `record`
appends a line to the file named by `COUNTER_FILE`, so a test can count side effects after kill -9.

    python mcp_counter_server.py            # stdio
    python mcp_counter_server.py --http PORT   # streamable HTTP on 127.0.0.1:PORT/mcp

Tools: `record(note)`, `slow_record(note, seconds)` (sleeps, then records: a hang past a timeout
still records), `die()` (exits mid-call), `fail(message)` (a tool error), `env_report()` (the names
in its environment and a hash of `MCP_TEST_SECRET`, never the value), `headers_report()` (HTTP:
a hash of the Authorization header it got).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("dals-test-counter")


def _append(line: str) -> int:
    path = os.environ.get("COUNTER_FILE")
    if not path:
        raise RuntimeError("COUNTER_FILE is not set")
    with open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")
    with open(path, encoding="utf-8") as f:
        return sum(1 for _ in f)


def _sha(value: str | None) -> str | None:
    return hashlib.sha256(value.encode()).hexdigest() if value is not None else None


@server.tool()
def record(note: str) -> str:
    """Record a note (a side effect the tests count)."""
    return f"recorded {note!r} (#{_append(note)})"


@server.tool()
async def slow_record(note: str, seconds: float) -> str:
    """Wait `seconds`, then record the note."""
    await asyncio.sleep(seconds)
    return f"recorded {note!r} (#{_append(note)})"


@server.tool()
def die() -> str:
    """Exit the server process in the middle of the call."""
    os._exit(3)


@server.tool()
def fail(message: str) -> str:
    """Always fails with `message` (a tool error)."""
    raise ToolError(message)


@server.tool()
def env_report() -> dict:
    """The names of this process's environment variables and a hash of MCP_TEST_SECRET."""
    return {"pid": os.getpid(), "secretSha": _sha(os.environ.get("MCP_TEST_SECRET")), "names": sorted(os.environ)}


@server.tool()
def headers_report(ctx: Context) -> dict:
    """A hash of the Authorization header of this HTTP request."""
    request = getattr(ctx.request_context, "request", None)
    auth = request.headers.get("authorization") if request is not None else None
    return {"authorizationSha": _sha(auth)}


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--http":
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run()
