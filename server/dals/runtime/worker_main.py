"""`dals worker`: serve the durable task endpoint with hypercorn, in this one process."""
from __future__ import annotations

import asyncio
import signal


def serve(port: int, host: str = "127.0.0.1", standby: bool = False) -> int:
    """Serve on `port`. With `standby`, import everything first, then wait for a line on stdin
    before binding: the supervisor keeps one such warm spare so a dead worker is replaced in
    milliseconds instead of a multi-second cold import. EOF on stdin (supervisor gone) = exit."""
    import sys

    from hypercorn.asyncio import serve as hypercorn_serve
    from hypercorn.config import Config

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
