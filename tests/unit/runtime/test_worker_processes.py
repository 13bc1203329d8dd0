"""`DALS_WORKER_PROCESSES`: the setting, the shared port, and the pids the runtime records."""

from __future__ import annotations

import socket

import pytest

from dals.config.settings import worker_processes
from dals.runtime.layout import Layout
from dals.runtime.worker_main import shared_socket, worker_config


@pytest.mark.parametrize("value, expected", [("", 1), ("1", 1), ("3", 3), ("16", 16)])
def test_worker_processes_setting(monkeypatch, value, expected):
    monkeypatch.setenv("DALS_WORKER_PROCESSES", value)
    assert worker_processes() == expected


@pytest.mark.parametrize("value", ["0", "17", "two", "-2", "1.5"])
def test_a_bad_worker_processes_setting_says_so_and_runs_one(monkeypatch, capsys, value):
    monkeypatch.setenv("DALS_WORKER_PROCESSES", value)
    assert worker_processes() == 1
    assert f"DALS_WORKER_PROCESSES={value!r} is not a whole number from 1 to 16" in capsys.readouterr().err


def test_shared_sockets_bind_one_port_beside_each_other():
    first = socket.socket(fileno=shared_socket("127.0.0.1", 0))
    try:
        port = first.getsockname()[1]
        second = socket.socket(fileno=shared_socket("127.0.0.1", port))
        try:
            assert second.getsockname() == ("127.0.0.1", port)
            first.listen()
            second.listen()
            with socket.create_connection(("127.0.0.1", port), timeout=5):
                pass
        finally:
            second.close()
        # a process that does not share (the single worker's plain bind) cannot take the port
        plain = socket.socket()
        try:
            with pytest.raises(OSError):
                plain.bind(("127.0.0.1", port))
        finally:
            plain.close()
    finally:
        first.close()


@pytest.mark.parametrize("shared", [False, True])
def test_no_child_process_inherits_the_worker_port(shared):
    """hypercorn marks the sockets it makes inheritable; the worker's configuration undoes it."""
    bind = f"fd://{shared_socket('127.0.0.1', 0)}" if shared else "127.0.0.1:0"
    sockets = worker_config(bind).create_sockets()
    made = [*sockets.secure_sockets, *sockets.insecure_sockets, *sockets.quic_sockets]
    try:
        assert len(made) == 1
        assert not made[0].get_inheritable()
    finally:
        for sock in made:
            sock.close()


def test_child_pids_lists_every_worker_process_once(tmp_path):
    lay = Layout(tmp_path).ensure()
    lay.write_runtime(
        {"restate": {"pid": 10}, "worker": {"pid": 11}, "workers": [{"pid": 11}, {"pid": 12}], "standby": {"pid": 13}}
    )
    assert lay.child_pids() == [("standby", 13), ("worker", 11), ("worker", 12), ("restate", 10)]


def test_child_pids_reads_a_runtime_file_without_workers(tmp_path):
    """Written by a DALS from before several worker processes: one `worker`, no standby pid."""
    lay = Layout(tmp_path).ensure()
    lay.write_runtime({"restate": {"pid": 10}, "worker": {"pid": 11}, "standby": {"pid": None}})
    assert lay.child_pids() == [("worker", 11), ("restate", 10)]
    lay.write_runtime({"supervisor": None, "ready": False})
    assert lay.child_pids() == []


def test_doctor_warns_about_a_bad_worker_processes_setting(monkeypatch, tmp_path):
    from dals.cli.doctor import check_settings
    from dals.lsp.config import Config

    monkeypatch.setenv("DALS_WORKER_PROCESSES", "lots")
    warned = [c for c in check_settings(Config.for_workspace(tmp_path)) if "DALS_WORKER_PROCESSES" in c.message]
    assert len(warned) == 1 and warned[0].level == "warn", warned
    monkeypatch.setenv("DALS_WORKER_PROCESSES", "2")
    assert not [c for c in check_settings(Config.for_workspace(tmp_path)) if "DALS_WORKER_PROCESSES" in c.message]
