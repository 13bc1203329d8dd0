"""The fork server on its own (runtime/zygote.py): a real zygote process with test roles, real
forks, real file descriptors over its socket. What the runtime does with it is in
tests/integration/test_fork_server.py."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from dals.local.pids import pid_alive
from dals.runtime import zygote

SERVER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from dals.runtime import zygote

    def echo(args):
        line = sys.stdin.readline().strip()
        print(f"{line}|{os.environ.get('ZYG_TEST')}|{os.getcwd()}|{args.get('word')}", flush=True)
        return int(args.get("code", 0))

    def die(args):
        os.kill(os.getpid(), signal_number := int(args["signal"]))
        time.sleep(5)
        return 0

    def readbig(args):
        print(len(sys.stdin.buffer.read(int(args["n"]))), flush=True)
        return 0

    def sleep(args):
        print("sleeping", flush=True)
        time.sleep(60)
        return 0

    zygote.serve(Path(sys.argv[1]), {"echo": echo, "die": die, "sleep": sleep, "readbig": readbig}, lambda: None)
    """
)


@pytest.fixture
def served(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(tmp_path)], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not (tmp_path / zygote.SOCKET_NAME).exists():
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "the zygote never bound its socket"
        time.sleep(0.02)
    yield tmp_path, proc
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def _fork(state: Path, role: str, args: dict, stdin_text: str = "", **kw) -> tuple[zygote.Forked, int]:
    """Fork `role` with a pipe as stdin (holding `stdin_text`) and one as stdout; (forked, stdout's
    read end)."""
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    os.write(in_w, stdin_text.encode())
    os.close(in_w)
    try:
        forked = zygote.fork(state, role, args, fds=(in_r, out_w, out_w), **kw)
    finally:
        os.close(in_r)
        os.close(out_w)
    return forked, out_r


def _read_all(fd: int) -> str:
    chunks = []
    while chunk := os.read(fd, 4096):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks).decode()


def test_a_child_gets_our_stdio_environment_directory_and_exit_code(served, tmp_path):
    state, _ = served
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    env = dict(os.environ, ZYG_TEST="from the client")
    forked, out = _fork(state, "echo", {"word": "hi", "code": 3}, "a line\n", env=env, cwd=str(elsewhere))
    assert forked.pid != os.getpid() and forked.pid > 0
    assert _read_all(out) == f"a line|from the client|{elsewhere}|hi\n"
    assert forked.wait(timeout=10) == 3
    forked.close()


def test_a_childs_stdin_reads_whole_messages_as_the_interpreters_own_does(served):
    """pygls reads a message body with one read(Content-Length): a 1 MiB one through a pipe (64 KiB
    at a time) must come whole, not cut at what the pipe held."""
    state, _ = served
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    try:
        forked = zygote.fork(state, "readbig", {"n": 1 << 20}, fds=(in_r, out_w, out_w))
    finally:
        os.close(in_r)
        os.close(out_w)
    writer = threading.Thread(target=lambda: (os.write(in_w, b"x" * (1 << 20)), os.close(in_w)))
    writer.start()
    assert _read_all(out_r) == f"{1 << 20}\n"
    writer.join(10)
    assert forked.wait(timeout=10) == 0


def test_a_child_ended_by_a_signal_reports_it_negative(served):
    state, _ = served
    forked, out = _fork(state, "die", {"signal": int(signal.SIGTERM)})
    assert forked.wait(timeout=10) == -signal.SIGTERM
    os.close(out)


def test_a_tied_child_is_killed_when_its_client_goes(served):
    state, _ = served
    forked, out = _fork(state, "sleep", {}, tied=True)
    assert os.read(out, 100) == b"sleeping\n"
    forked.close()  # as when the client is killed: its connection closes
    deadline = time.monotonic() + 10
    while pid_alive(forked.pid):
        assert time.monotonic() < deadline, "the tied child outlived its client"
        time.sleep(0.02)
    os.close(out)


def test_an_untied_child_outlives_its_client(served):
    state, _ = served
    forked, out = _fork(state, "sleep", {})
    assert os.read(out, 100) == b"sleeping\n"
    forked.close()
    time.sleep(0.3)  # long enough for the zygote to have seen the close
    assert pid_alive(forked.pid)
    os.kill(forked.pid, signal.SIGKILL)
    os.close(out)


def test_bad_requests_get_a_clear_refusal_and_the_zygote_stays_up(served, monkeypatch):
    state, proc = served
    with pytest.raises(zygote.ZygoteUnavailable, match="unknown role 'nope'"):
        _fork(state, "nope", {})
    # other code (another dals, version or PYTHONPATH) is refused
    with monkeypatch.context() as m:
        ours = zygote.identity()
        m.setattr(zygote, "identity", lambda: {**ours, "pythonpath": "/elsewhere"})
        with pytest.raises(zygote.ZygoteUnavailable, match=r"\(pythonpath differ"):
            _fork(state, "echo", {})
    # not the protocol at all
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(state / zygote.SOCKET_NAME))
        s.sendall(b"\xff\xff\xff\xffgarbage")
        assert b"error" in s.recv(1000)
    assert proc.poll() is None
    forked, out = _fork(state, "echo", {"word": "still"}, "x\n")
    assert _read_all(out).endswith("|still\n") and forked.wait(timeout=10) == 0


def test_no_zygote_is_unavailable_not_an_error(tmp_path):
    with pytest.raises(zygote.ZygoteUnavailable):
        zygote.fork(tmp_path, "echo")
    (tmp_path / zygote.SOCKET_NAME).touch()  # a socket file nobody listens on: a killed zygote's
    with pytest.raises(zygote.ZygoteUnavailable):
        zygote.fork(tmp_path, "echo")
