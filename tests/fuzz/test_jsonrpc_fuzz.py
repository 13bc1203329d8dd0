"""Raw JSON-RPC fuzz against a real `dals lsp` over stdio: wrong types, missing fields, huge strings,
invalid UTF-8, unknown methods, batches, requests after shutdown. After each message the server
still answers; at the end it still does real work. One server process for the whole run."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tests.support.runtime import DALS

INVALID_PARAMS, METHOD_NOT_FOUND = -32602, -32601
METHODS = [
    "initialize",
    "initialized",
    "workspace/executeCommand",
    "textDocument/didOpen",
    "textDocument/didChange",
    "textDocument/didClose",
    "textDocument/codeAction",
    "codeAction/resolve",
    "workspace/didChangeConfiguration",
    "workspace/didChangeWatchedFiles",
    "$/cancelRequest",
    "$/setTrace",
    "no/such/method",
    "dals/taskEvent",
    "",
]
COMMANDS = [
    "dals.startTask",
    "dals.listTasks",
    "dals.showTask",
    "dals.cancelTask",
    "dals.resumeTask",
    "dals.answer",
    "dals.nope",
    "",
]
scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)
ids = (
    st.integers(-(2**63), 2**64) | st.text(max_size=10) | st.none() | st.floats() | st.lists(st.integers(), max_size=2)
)
huge = st.integers(100_000, 2_000_000).map(lambda n: "x" * n)
command_args = st.lists(
    st.dictionaries(
        st.sampled_from(["prompt", "taskId", "status", "requestId", "decision", "uri", "range", "mode", "model"]),
        json_values | huge,
        max_size=4,
    )
    | json_values,
    max_size=3,
)
messages = st.one_of(
    json_values.map(lambda v: json.dumps(v).encode()),  # not even an object
    st.binary(max_size=200),  # invalid UTF-8 / not JSON
    st.text(max_size=50).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.builds(
        lambda i, m, p, extra: json.dumps({"jsonrpc": "2.0", "id": i, "method": m, "params": p, **extra}).encode(),
        ids,
        st.sampled_from(METHODS) | st.text(max_size=15),
        json_values,
        st.dictionaries(st.sampled_from(["jsonrpc", "result", "error"]), json_values, max_size=2),
    ),
    st.builds(
        lambda i, c, a: json.dumps(
            {"jsonrpc": "2.0", "id": i, "method": "workspace/executeCommand", "params": {"command": c, "arguments": a}}
        ).encode(),
        st.integers(10_000, 10**6),
        st.sampled_from(COMMANDS),
        command_args,
    ),
    st.builds(
        lambda m, p: json.dumps({"jsonrpc": "2.0", "method": m, "params": p}).encode(),  # notifications
        st.sampled_from(METHODS),
        json_values | huge.map(lambda s: {"settings": s}),
    ),
    st.lists(
        st.builds(lambda i: {"jsonrpc": "2.0", "id": i, "method": "no/such/method"}, st.integers()),
        min_size=1,
        max_size=3,
    ).map(lambda b: json.dumps(b).encode()),  # batch
    # the body cut short or padded with garbage, with a correct Content-Length
    st.builds(
        lambda body, cut: body[:cut], st.just(b'{"jsonrpc": "2.0", "id": 7, "method": "shutdown"}'), st.integers(0, 40)
    ),
)


def frame(body: bytes) -> bytes:
    return f"Content-Length: {len(body)}\r\n\r\n".encode() + body


class RawServer:
    """`dals lsp` as a subprocess with a reader thread that frames its stdout."""

    def __init__(self, env, workspace):
        self.proc = subprocess.Popen(
            [DALS, "lsp"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd=workspace,
        )
        self.replies: queue.Queue = queue.Queue()
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        out = self.proc.stdout
        while True:
            headers = {}
            while True:
                line = out.readline()
                if not line:
                    return
                line = line.strip()
                if not line:
                    break
                name, _, value = line.decode().partition(":")
                headers[name.lower()] = value.strip()
            msg = json.loads(out.read(int(headers["content-length"])))
            if "method" in msg and "id" in msg:  # a request to the client: answer it so nothing waits
                self.send(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": None}).encode())
            elif "method" not in msg:
                self.replies.put(msg)

    def send(self, body: bytes) -> None:
        with self.lock:
            self.proc.stdin.write(frame(body))
            self.proc.stdin.flush()

    def request(self, rid: str, method: str, params=None, timeout: float = 30.0) -> dict:
        self.send(json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}).encode())
        deadline = time.monotonic() + timeout
        while True:
            msg = self.replies.get(timeout=max(0.01, deadline - time.monotonic()))
            assert msg.get("jsonrpc") == "2.0" and ("result" in msg) != ("error" in msg), msg
            if msg.get("id") == rid:
                return msg

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


@pytest.fixture
def server(runtime, tmp_path):
    # No model configured: a fuzzed dals.startTask is refused before it could start a task.
    env = {k: v for k, v in runtime.env.items() if k != "DALS_MODEL"}
    s = RawServer(env, tmp_path)
    yield s
    s.stop()


def test_raw_json_rpc_fuzz_keeps_the_server_answering(server, tmp_path):
    init = server.request(
        "init", "initialize", {"processId": os.getpid(), "rootUri": tmp_path.as_uri(), "capabilities": {}}
    )
    assert "result" in init and "executeCommandProvider" in init["result"]["capabilities"]
    server.send(json.dumps({"jsonrpc": "2.0", "method": "initialized", "params": {}}).encode())
    probes = iter(range(10**6))

    def probe() -> None:
        reply = server.request(
            f"probe-{next(probes)}", "workspace/executeCommand", {"command": "dals.showTask", "arguments": []}
        )
        assert reply["error"]["code"] == INVALID_PARAMS, reply

    @settings(max_examples=40, deadline=None, derandomize=False, suppress_health_check=list(HealthCheck))
    @given(batch=st.lists(messages, min_size=1, max_size=3))
    def fuzz(batch):
        for body in batch:
            server.send(body)
        assert server.proc.poll() is None, "dals lsp died"
        probe()

    fuzz()
    # still does real work against the runtime
    listed = server.request("list", "workspace/executeCommand", {"command": "dals.listTasks", "arguments": [{}]})
    assert isinstance(listed["result"]["tasks"], list), listed
    # a clean end: shutdown answered, exit honoured with status 0 (it was never left half-broken)
    assert server.request("shutdown", "shutdown")["result"] is None
    assert server.proc.poll() is None
    server.send(json.dumps({"jsonrpc": "2.0", "method": "exit"}).encode())
    assert server.proc.wait(15) == 0


def test_requests_after_shutdown_get_an_error(server, tmp_path):
    server.request("init", "initialize", {"processId": os.getpid(), "rootUri": tmp_path.as_uri(), "capabilities": {}})
    assert server.request("shutdown", "shutdown")["result"] is None
    try:
        after = server.request(
            "after", "workspace/executeCommand", {"command": "dals.listTasks", "arguments": [{}]}, timeout=2
        )
    except queue.Empty:
        pytest.fail("no answer to a request after shutdown")
    assert after["error"]["code"] == -32600, after
    assert server.proc.poll() is None
