"""`dals worker`: serve the durable task endpoint with hypercorn, in this one process."""

from __future__ import annotations

import asyncio
import gc
import signal
import socket
import sys
import types

from ..config.settings import worker_loop

# With several worker processes on one port, each HTTP/2 connection takes at most this many
# invocations at once, so that Restate opens more connections and the kernel spreads them (and
# their tasks) over the processes; one process would otherwise get every invocation on its one
# connection. Restate opens another connection when those it has are full. Fewer streams spread
# finer but cost more: at 2, Restate's and the worker's CPU per step rose by 60 % and 20 % (many
# near-empty connections); 8 was the steadiest at 50 tasks (docs/optimisation-log.md).
SHARED_STREAMS_PER_CONNECTION = 8


def _without_mcp() -> None:
    """Keep `pydantic_ai.mcp` (fastmcp, mcp, their types: about 60 % of the worker's import time)
    out of this process. `restate.ext.pydantic` imports it only to tell MCP toolsets apart from
    the others (`isinstance(toolset, MCPToolset)`), and DALS does not use that wrapper, so a
    placeholder class that nothing is an instance of gives the same answers. Anything else asked of
    the module fails loudly, naming this function, instead of half working. The first task with MCP
    servers puts the real module in its place (`dals.agent.mcp_servers.load_mcp`)."""
    if "pydantic_ai.mcp" in sys.modules:
        return
    stub = types.ModuleType("pydantic_ai.mcp", "Placeholder: see dals.runtime.worker_main._without_mcp.")

    class MCPToolset:
        """No DALS toolset is an MCP toolset."""

        def __new__(cls, *args, **kwargs):
            raise RuntimeError("MCP toolsets are not available in the DALS worker (see worker_main._without_mcp)")

    def missing(name: str):
        raise AttributeError(
            f"pydantic_ai.mcp.{name} is not loaded in the DALS worker (see dals.runtime.worker_main._without_mcp)"
        )

    stub.__file__ = __file__  # where an ImportError of another name points
    vars(stub).update(DALS_PLACEHOLDER=True, MCPToolset=MCPToolset, __getattr__=missing)  # (mypy: a ModuleType)
    sys.modules["pydantic_ai.mcp"] = stub


def shared_socket(host: str, port: int) -> int:
    """A listening-to-be TCP socket on `port` that other worker processes of this user bind too
    (`SO_REUSEPORT`: the kernel spreads new connections over them); its file descriptor."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    return sock.detach()  # hypercorn owns it from here (`fd://`)


def preload():
    """Import what serving takes (the fork server does it once for every worker it forks); the
    loop runner."""
    _without_mcp()
    import hypercorn.asyncio  # noqa: F401
    import hypercorn.config  # noqa: F401

    from ..durable.app import app  # noqa: F401

    return loop_runner()


def serve(port: int, host: str = "127.0.0.1", shared: bool = False) -> int:
    """Serve on `port` (in a process the fork server forked, the imports are done already). With
    `shared`, bind the port beside the other worker processes (`shared_socket`)."""
    from hypercorn.asyncio import serve as hypercorn_serve

    run = preload()
    from ..durable.app import app

    # Everything imported so far lives as long as the process: out of the collector's way, so its
    # full collections walk the tasks' objects only (about 110,000 objects fewer; 0.2 s of GC per
    # 850 steps became 0.04 s, docs/optimisation-log.md "Eager steps").
    gc.freeze()

    config = worker_config(f"fd://{shared_socket(host, port)}" if shared else f"{host}:{port}")
    if shared:
        config.h2_max_concurrent_streams = SHARED_STREAMS_PER_CONNECTION

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await hypercorn_serve(app, config, shutdown_trigger=stop.wait)

    run(main())
    return 0


def worker_config(bind: str):
    """hypercorn's configuration for the worker, whose listening socket no child process inherits.

    hypercorn marks its sockets inheritable (for its own multi-process mode) and uvloop's
    subprocesses ignore `close_fds`, so every command a task ran held the worker port too: a
    worker killed during a command left its port taken until the command's reaper had ended it,
    and the replacement failed to bind (`Address already in use`; seen in the crash
    campaign, which then waited for a worker that never came)."""
    from hypercorn.config import Config

    class WorkerConfig(Config):
        def create_sockets(self):
            sockets = super().create_sockets()
            for sock in (*sockets.secure_sockets, *sockets.insecure_sockets, *sockets.quic_sockets):
                sock.set_inheritable(False)
            return sockets

    config = WorkerConfig()
    config.bind = [bind]
    config.keep_alive_max_requests = 1_000_000_000  # the default 1,000 stalls Restate's connection
    config.graceful_timeout = 2.0
    config.accesslog = None
    return config


def loop_runner():
    """How the worker runs its event loop (`DALS_WORKER_LOOP`): on uvloop (libuv, in C) by default,
    else asyncio's own. With one or a few tasks the worker is CPU-bound on its loop once steps
    overlap Restate's acknowledgements, and uvloop took 6-10 % off a durable step's wall time;
    with 25-50 tasks at once asyncio's loop gave 4-10 % more steps per second (docs/optimisation-log.md,
    "Eager steps"). asyncio's loop too where uvloop is missing."""
    choice = worker_loop()
    if choice == "asyncio":
        return asyncio.run
    try:
        import uvloop
    except ImportError:
        return asyncio.run
    return uvloop.run
