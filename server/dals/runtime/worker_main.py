"""`dals worker`: serve the durable task endpoint with hypercorn, in this one process."""
from __future__ import annotations

import asyncio
import signal
import sys
import types


def _without_mcp() -> None:
    """Keep `pydantic_ai.mcp` (fastmcp, mcp, their types: about 60 % of the worker's import time)
    out of this process. `restate.ext.pydantic` imports it only to tell MCP toolsets apart from
    the others (`isinstance(toolset, MCPToolset)`), and DALS's agent has none, so a placeholder
    class that nothing is an instance of gives the same answers. Anything else asked of the module
    fails loudly, naming this function, instead of half working."""
    if "pydantic_ai.mcp" in sys.modules:
        return
    stub = types.ModuleType("pydantic_ai.mcp", "Placeholder: see dals.runtime.worker_main._without_mcp.")

    class MCPToolset:
        """No DALS toolset is an MCP toolset."""

        def __new__(cls, *args, **kwargs):
            raise RuntimeError("MCP toolsets are not available in the DALS worker (see worker_main._without_mcp)")

    def missing(name: str):
        raise AttributeError(f"pydantic_ai.mcp.{name} is not loaded in the DALS worker "
                             "(see dals.runtime.worker_main._without_mcp)")

    stub.__file__ = __file__  # where an ImportError of another name points
    stub.MCPToolset = MCPToolset
    stub.__getattr__ = missing
    sys.modules["pydantic_ai.mcp"] = stub


def serve(port: int, host: str = "127.0.0.1", standby: bool = False) -> int:
    """Serve on `port`. With `standby`, import everything first, then wait for a line on stdin
    before binding: the supervisor keeps one such warm spare so a dead worker is replaced in
    milliseconds instead of a multi-second cold import. EOF on stdin (supervisor gone) = exit."""
    from hypercorn.asyncio import serve as hypercorn_serve
    from hypercorn.config import Config

    _without_mcp()
    from ..durable.app import app

    if standby:
        print("standby: warm, waiting", file=sys.stderr, flush=True)
        if not sys.stdin.readline():
            return 0
        print("standby: taking over", file=sys.stderr, flush=True)

    config = Config()
    config.bind = [f"{host}:{port}"]
    config.keep_alive_max_requests = 1_000_000_000  # the default 1,000 stalls Restate's connection
    config.graceful_timeout = 2.0
    config.accesslog = None

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await hypercorn_serve(app, config, shutdown_trigger=stop.wait)

    asyncio.run(main())
    return 0
