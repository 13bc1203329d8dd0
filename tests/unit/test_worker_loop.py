"""The worker's event loop: uvloop when installed (a dependency), asyncio's otherwise."""
from __future__ import annotations

import asyncio
import sys

from dals.runtime.worker_main import loop_runner


def test_the_worker_runs_on_uvloop():
    import uvloop

    async def loop_type():
        return type(asyncio.get_running_loop())

    run = loop_runner()
    assert run is uvloop.run
    assert run(loop_type()) is uvloop.Loop


def test_without_uvloop_asyncios_loop(monkeypatch):
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import fails as if not installed
    assert loop_runner() is asyncio.run
