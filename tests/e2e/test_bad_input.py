"""Bad input gets a clear JSON-RPC error naming the field, and the server keeps answering."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from pygls.exceptions import JsonRpcException

from tests.support.lsp_client import DalsClient
from tests.support.runtime import DALS

INVALID_PARAMS = -32602


@pytest.fixture
async def client(runtime, tmp_path):
    c = DalsClient(runtime.env, tmp_path)
    await c.start()
    yield c
    await c.stop()


@pytest.mark.parametrize(
    "args, needle",
    [
        ((), "one object argument"),
        (("just a string",), "one object argument"),
        (({},), "field 'prompt'"),
        (({"prompt": ""},), "field 'prompt'"),
        (({"prompt": "x", "mode": "bogus"},), "field 'mode'"),
        (
            ({"prompt": "x", "range": {"start": {"line": -1, "character": 0}, "end": {"line": 0, "character": 0}}},),
            "field 'range.start.line'",
        ),
        (({"prompt": "x", "uri": "file:///etc/passwd"},), "outside the workspace"),
        (({"prompt": "x", "uri": "untitled:Untitled-1"},), "field 'uri'"),
    ],
)
async def test_start_task_bad_arguments(client, args, needle):
    with pytest.raises(JsonRpcException) as err:
        await client.command("dals.startTask", *args)
    assert err.value.code == INVALID_PARAMS
    assert needle in str(err.value)


@pytest.mark.parametrize(
    "command, arg, needle",
    [
        ("dals.showTask", {"taskId": "no-such-task"}, "unknown task"),
        ("dals.showTask", {"taskId": "../etc"}, "field 'taskId'"),
        ("dals.cancelTask", {}, "field 'taskId'"),
        ("dals.resumeTask", {"taskId": "no-such-task"}, "unknown task"),
        ("dals.listTasks", {"status": ["nonsense"]}, "field 'status.0'"),
        ("dals.answer", {"taskId": "t", "requestId": "r", "decision": "maybe"}, "field 'decision'"),
        ("dals.followUp", {"taskId": "no-such-task", "prompt": "more"}, "unknown task"),
        ("dals.followUp", {"taskId": "t"}, "field 'prompt'"),
        ("dals.steer", {"taskId": "no-such-task", "message": "stop"}, "unknown task"),
        ("dals.steer", {"taskId": "t", "message": ""}, "field 'message'"),
        ("dals.transcript", {"taskId": "no-such-task"}, "unknown task"),
    ],
)
async def test_other_commands_bad_arguments(client, command, arg, needle):
    with pytest.raises(JsonRpcException) as err:
        await client.command(command, arg)
    assert err.value.code == INVALID_PARAMS
    assert needle in str(err.value)
    # still alive and answering
    assert "tasks" in await client.command("dals.listTasks", {})


async def test_unknown_command_is_an_error_not_a_crash(client):
    with pytest.raises(JsonRpcException):
        await client.command("dals.noSuchCommand", {})
    assert "tasks" in await client.command("dals.listTasks", {})


async def test_no_model_configured_says_how_to_set_one(runtime, tmp_path):
    env = {k: v for k, v in runtime.env.items() if k != "DALS_MODEL"}
    c = DalsClient(env, tmp_path)
    await c.start()
    try:
        with pytest.raises(JsonRpcException) as err:
            await c.command("dals.startTask", {"prompt": "do something"})
        assert "no model configured" in str(err.value) and "DALS_MODEL" in str(err.value)
    finally:
        await c.stop()


async def test_missing_provider_key_fails_at_start(runtime, tmp_path):
    env = {k: v for k, v in runtime.env.items() if k != "ANTHROPIC_API_KEY"}
    c = DalsClient(env, tmp_path)
    await c.start()
    try:
        with pytest.raises(JsonRpcException) as err:
            await c.command("dals.startTask", {"prompt": "x", "model": "anthropic:claude-sonnet-4-5"})
        assert "ANTHROPIC_API_KEY" in str(err.value)
        assert "tasks" in await c.command("dals.listTasks", {})
    finally:
        await c.stop()


def _frame(obj) -> bytes:
    body = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    return f"Content-Length: {len(body)}\r\n\r\n".encode() + body


def test_malformed_json_rpc_does_not_kill_the_server(runtime, tmp_path):
    """Garbage, wrong types and unknown methods on the raw stdio stream; then a valid request."""
    messages = b"".join(
        [
            _frame(b"{not json"),
            _frame(b"\xff\xfe invalid utf-8"),
            _frame(
                {
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "initialize",
                    "params": {"capabilities": {}, "rootUri": tmp_path.as_uri(), "processId": os.getpid()},
                }
            ),
            _frame({"jsonrpc": "2.0", "method": "initialized", "params": {}}),
            _frame({"jsonrpc": "2.0", "id": 2, "method": "no/such/method", "params": {}}),
            _frame(
                {
                    "jsonrpc": "2.0",
                    "id": 3,
                    "method": "workspace/executeCommand",
                    "params": {"command": "dals.startTask", "arguments": [{"prompt": 42}]},
                }
            ),
            _frame({"jsonrpc": "2.0", "id": 4, "method": "workspace/executeCommand", "params": "wrong type"}),
            _frame({"jsonrpc": "2.0", "id": 5, "method": "shutdown"}),
            _frame({"jsonrpc": "2.0", "method": "exit"}),
        ]
    )
    proc = subprocess.run([DALS, "lsp"], input=messages, capture_output=True, env=runtime.env, timeout=60)
    out = proc.stdout.decode(errors="replace")
    replies = {}
    for chunk in out.split("Content-Length: ")[1:]:
        body = chunk.split("\r\n\r\n", 1)[1]
        msg = json.loads(body[: int(chunk.split("\r\n", 1)[0])])
        if "id" in msg and ("result" in msg or "error" in msg):
            replies[msg["id"]] = msg
    assert "result" in replies[1]  # initialize answered despite the garbage before it
    assert replies[2]["error"]["code"] == -32601
    assert replies[3]["error"]["code"] == INVALID_PARAMS and "prompt" in replies[3]["error"]["message"]
    assert "error" in replies[4]
    assert "result" in replies[5]  # shutdown answered: the server lived to the end
