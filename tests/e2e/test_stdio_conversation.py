"""`dals lsp` over real stdio: one reply per request, `initialize` included, nothing else on stdout,
also when the first bytes are odd (a blank line pygls skips).

A raw JSON-RPC client, so every byte on stdout is seen: a duplicate reply or stray output fails.
The server runs on the session's runtime (tests/conftest.py: a tmp state dir, `DALS_MODEL=offline`,
`dals down` at the end), so it starts no runtime of its own; it is stopped by `exit`, else by pid.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import uuid
from collections import Counter

import pytest

from tests.support.runtime import DALS

PARAMS = {
    "processId": os.getpid(),
    "clientInfo": {"name": "raw-test"},
    "capabilities": {
        "general": {"positionEncodings": ["utf-32", "utf-16"]},
        "textDocument": {"synchronization": {"willSave": True, "didSave": True}, "codeAction": {"dataSupport": True}},
        "workspace": {"configuration": True, "workspaceFolders": True},
    },
    "initializationOptions": {"dals": {"commands": {"allow": ["pytest"]}}},
}
SOURCE = "def mul(a, b):\n    return a * b\n"


def frame(message: dict) -> bytes:
    body = json.dumps(message).encode()
    return f"Content-Length: {len(body)}\r\n\r\n".encode() + body


class RawClient:
    """`dals lsp` as a subprocess; a thread frames its stdout, keeps every message and answers the
    server's own requests (workspace/configuration, progress) with null."""

    def __init__(self, env: dict, cwd):
        self.proc = subprocess.Popen(
            [DALS, "lsp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=cwd
        )
        self.received: list[dict] = []
        self.bad_output: list[bytes] = []
        self.changed = threading.Condition()
        self.send_lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        out = self.proc.stdout
        while True:
            length = None
            while (line := out.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
                elif name.lower() != "content-type":
                    self.bad_output.append(line)
            if not line or length is None:
                if line:
                    self.bad_output.append(line)
                with self.changed:
                    self.changed.notify_all()
                return
            msg = json.loads(out.read(length))
            if "method" in msg and "id" in msg:
                self.send_raw(frame({"jsonrpc": "2.0", "id": msg["id"], "result": None}))
            with self.changed:
                self.received.append(msg)
                self.changed.notify_all()

    def send_raw(self, data: bytes) -> None:
        with self.send_lock:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()

    def notify(self, method: str, params) -> None:
        self.send_raw(frame({"jsonrpc": "2.0", "method": method, "params": params}))

    def reply(self, rid, timeout: float = 60.0) -> dict:
        def found():
            return next((m for m in self.received if m.get("id") == rid and "method" not in m), None)

        with self.changed:
            assert self.changed.wait_for(found, timeout), f"no reply to {rid!r} after {timeout}s"
            return found()

    def request(self, rid, method: str, params=None, timeout: float = 60.0) -> dict:
        self.send_raw(frame({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}))
        return self.reply(rid, timeout)

    def replies(self) -> Counter:
        return Counter(repr(m["id"]) for m in self.received if "method" not in m)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


@pytest.mark.parametrize("variant", ["plain", "odd-first-bytes"])
def test_each_request_is_answered_once(runtime, tmp_path, variant):
    env = dict(runtime.env)
    path = tmp_path / "calc.py"
    path.write_text(SOURCE)
    client = RawClient(env, tmp_path)
    try:
        if variant == "odd-first-bytes":
            client.send_raw(b"\r\n")  # pygls skips a blank line
        init_id = f"init-{uuid.uuid4().hex}"
        init = client.request(init_id, "initialize", dict(PARAMS, rootUri=tmp_path.as_uri()))
        assert init["result"]["serverInfo"]["name"] == "dals"
        assert init["result"]["capabilities"]["positionEncoding"] == "utf-32"
        assert "dals.startTask" in init["result"]["capabilities"]["executeCommandProvider"]["commands"]

        client.notify("initialized", {})
        client.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": path.as_uri(), "languageId": "python", "version": 1, "text": SOURCE}},
        )
        actions = client.request(
            2,
            "textDocument/codeAction",
            {
                "textDocument": {"uri": path.as_uri()},
                "range": {"start": {"line": 0, "character": 0}, "end": {"line": 1, "character": 16}},
                "context": {"diagnostics": []},
            },
        )
        assert "Refactor with DALS" in [a["title"] for a in actions["result"]]
        unknown = client.request(3, "workspace/executeCommand", {"command": "dals.noSuchCommand", "arguments": []})
        assert "error" in unknown
        assert client.request(4, "shutdown")["result"] is None
        client.notify("exit", None)
        assert client.proc.wait(30) == 0
        client.reader.join(30)
        assert not client.reader.is_alive()
    finally:
        client.stop()
    assert client.replies() == Counter({repr(init_id): 1, "2": 1, "3": 1, "4": 1}), client.received
    assert client.bad_output == []
