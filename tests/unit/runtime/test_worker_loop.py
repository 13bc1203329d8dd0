"""The worker's event loop (`DALS_WORKER_LOOP`): uvloop by default (a dependency), asyncio's on
request or where uvloop is missing."""

from __future__ import annotations

import asyncio
import sys

from dals.runtime.worker_main import loop_runner


def test_the_worker_runs_on_uvloop_by_default(monkeypatch):
    import uvloop

    monkeypatch.delenv("DALS_WORKER_LOOP", raising=False)

    async def loop_type():
        return type(asyncio.get_running_loop())

    run = loop_runner()
    assert run is uvloop.run
    assert run(loop_type()) is uvloop.Loop


def test_asyncios_loop_on_request(monkeypatch):
    monkeypatch.setenv("DALS_WORKER_LOOP", "asyncio")
    assert loop_runner() is asyncio.run


def test_a_bad_value_says_so_and_runs_uvloop(monkeypatch, capsys):
    import uvloop

    monkeypatch.setenv("DALS_WORKER_LOOP", "tokio")
    assert loop_runner() is uvloop.run
    assert "DALS_WORKER_LOOP='tokio' is not one of uvloop, asyncio" in capsys.readouterr().err


def test_without_uvloop_asyncios_loop(monkeypatch):
    monkeypatch.delenv("DALS_WORKER_LOOP", raising=False)
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import fails as if not installed
    assert loop_runner() is asyncio.run


def test_doctor_and_dals_up_say_a_bad_worker_loop(monkeypatch, tmp_path):
    from dals.cli.doctor import check_settings
    from dals.config.settings import runtime_setting_problems
    from dals.lsp.config import Config

    monkeypatch.setenv("DALS_WORKER_LOOP", "tokio")
    assert runtime_setting_problems() == ["DALS_WORKER_LOOP='tokio' is not one of uvloop, asyncio; using uvloop"]
    warned = [c for c in check_settings(Config.for_workspace(tmp_path)) if "DALS_WORKER_LOOP" in c.message]
    assert len(warned) == 1 and warned[0].level == "warn", warned
    monkeypatch.setenv("DALS_WORKER_LOOP", "asyncio")
    assert runtime_setting_problems() == []
