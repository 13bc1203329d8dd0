"""MCP servers as agent tools, against real servers (npm's server-everything and server-filesystem,
pinned; a counter server on the `mcp` package, over stdio and streamable HTTP), a real Restate and
`dals lsp` over stdio: approvals, journaled calls that survive kill -9 of the worker once,
failures that the model sees while the task goes on, and `.mcp.json` only when allowed."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from tests.support.lsp_client import DalsClient
from tests.support.mcp_servers import COUNTER, HttpCounter, counter, lines, npm_server, plan
from tests.support.runtime import Runtime, wait_for

PROVIDER_KEY = "sk-test-mcp-provider-key-0123456789"
HTTP_TOKEN = "http-token-from-the-worker-env-4711"


@pytest.fixture(scope="module")
def mcp_runtime():
    state = Path(tempfile.mkdtemp(prefix="dals-mcp-state-"))
    extra = {"DALS_MODEL": "offline", "OPENAI_API_KEY": PROVIDER_KEY, "MCP_HTTP_TOKEN": HTTP_TOKEN}
    if os.environ.get("DALS_FORCE_REPLAY") == "1":  # `make test-replay`: replay after every step
        extra["DALS_FORCE_REPLAY"] = "1"
    rt = Runtime(state, extra)
    rt.up()
    yield rt
    rt.down()
    shutil.rmtree(state, ignore_errors=True)


def settings(servers: dict, allow: list[str] | None = None, **mcp) -> dict:
    return {
        "dals": {
            "commands": {"allow": ["*"]},
            "mcpServers": servers,
            "mcp": {"allow": allow if allow is not None else ["*"], **mcp},
        }
    }


async def run_task(client: DalsClient, prompt: str, timeout: float = 120) -> tuple[str, list[dict]]:
    task_id = (await client.command("dals.startTask", {"prompt": prompt}))["taskId"]
    events = await client.wait_finished(task_id, timeout=timeout)
    return task_id, events


def tool_events(events: list[dict], name: str) -> list[dict]:
    return [e for e in events if e["kind"] == "tool" and e["title"].startswith(name)]


def logs(events: list[dict]) -> str:
    return "\n".join(e["title"] + " " + json.dumps(e.get("detail")) for e in events if e["kind"] == "log")


async def test_real_servers_approvals_and_isolation(mcp_runtime, tmp_path):
    count = tmp_path / "count.txt"
    fsroot = tmp_path / "fsroot"
    fsroot.mkdir()
    servers = {
        "counter": counter(count),
        "everything": {"command": npm_server("mcp-server-everything")},
        "fs": {"command": npm_server("mcp-server-filesystem"), "args": [str(fsroot)]},
    }
    prompt = plan(
        ("mcp__everything__echo", {"message": "hi there"}),
        ("mcp__everything__get-env", {}),
        ("mcp__fs__write_file", {"path": str(fsroot / "made.txt"), "content": "by mcp"}),
        ("mcp__counter__record", {"note": "approved"}),
        ("mcp__counter__record", {"note": "rejected"}),
    )
    client = DalsClient(mcp_runtime.env, tmp_path)
    await client.start(settings(servers, allow=["mcp__everything__*", "mcp__fs__*"]))
    try:
        task_id = (await client.command("dals.startTask", {"prompt": prompt}))["taskId"]
        for decision in ("approve", "reject"):
            events = await client.wait_event(
                task_id,
                lambda evs: (
                    sum(e["kind"] == "approval" and e["status"] == "waiting" for e in evs)
                    == (1 if decision == "approve" else 2)
                ),
            )
            ask = [e for e in events if e["kind"] == "approval" and e["status"] == "waiting"][-1]
            assert ask["detail"]["action"] == "mcp" and ask["detail"]["tool"] == "mcp__counter__record"
            assert ask["detail"]["arguments"] == {"note": "approved" if decision == "approve" else "rejected"}
            assert await client.command(
                "dals.answer", {"taskId": task_id, "requestId": ask["detail"]["requestId"], "decision": decision}
            ) == {"ok": True}
        events = await client.wait_finished(task_id)
    finally:
        await client.stop()
    assert events[-1]["status"] == "succeeded", events[-1]
    assert "Echo: hi there" in tool_events(events, "mcp__everything__echo")[0]["detail"]["result"]
    assert (fsroot / "made.txt").read_text() == "by mcp"
    assert lines(count) == ["approved"]  # the rejected call was never made
    # the server's environment is the minimal base plus its own env: no provider key
    server_env = tool_events(events, "mcp__everything__get-env")[0]["detail"]["result"]
    assert "PATH" in server_env and "OPENAI_API_KEY" not in server_env and PROVIDER_KEY not in server_env


async def test_call_journaled_before_kill9_happens_once(mcp_runtime, tmp_path):
    count = tmp_path / "count.txt"
    prompt = plan(
        ("mcp__counter__env_report", {}),
        ("mcp__counter__record", {"note": "once"}),
        ("run_command", {"command": "touch slow.started && sleep 3"}),
        ("mcp__counter__record", {"note": "after"}),
    )
    client = DalsClient(mcp_runtime.env, tmp_path)
    await client.start(settings({"counter": counter(count)}))
    try:
        task_id = (await client.command("dals.startTask", {"prompt": prompt}))["taskId"]
        await asyncio.to_thread(wait_for, lambda: (tmp_path / "slow.started").exists(), 60, "the slow step")
        old = mcp_runtime.kill("worker")
        events = await client.wait_finished(task_id, timeout=120)
    finally:
        await client.stop()
    assert mcp_runtime.status()["worker"]["pid"] != old
    assert events[-1]["status"] == "succeeded", events[-1]
    assert lines(count) == ["once", "after"]  # journaled before the kill: not made again
    report = tool_events(events, "mcp__counter__env_report")[0]["detail"]["result"]
    assert "OPENAI_API_KEY" not in report and "KEY" not in report
    server_pid = int(re.search(r'"pid": (\d+)', report)[1])

    def gone():
        try:
            os.kill(server_pid, 0)
        except ProcessLookupError:
            return True
        return False

    await asyncio.to_thread(wait_for, gone, 10, "the killed worker's MCP server to die with it")
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))


async def test_failures_are_tool_errors_and_the_task_goes_on(mcp_runtime, tmp_path):
    count = tmp_path / "count.txt"
    bad_json = tmp_path / "bad-mcp.json"
    bad_json.write_text('{"mcpServers": {')
    servers = {
        "counter": counter(count),
        "missing": {"command": "/nonexistent/mcp-server"},
        "broken": {"command": "x", "env": ["not", "an", "object"]},
    }
    prompt = plan(
        ("mcp__counter__slow_record", {"note": "slow", "seconds": 4}),
        ("mcp__counter__die", {}),
        ("mcp__counter__record", {"note": "after-die"}),
        ("mcp__counter__fail", {"message": "the tool says no"}),
        ("mcp__missing__anything", {}),
    )
    client = DalsClient(dict(mcp_runtime.env, DALS_MCP_CONFIG=str(bad_json)), tmp_path)
    await client.start(settings(servers, timeoutS=1.5))
    try:
        task_id, events = await run_task(client, prompt)
        listed = await client.command("dals.listTasks", {})  # the LSP server is still up
    finally:
        await client.stop()
    assert task_id in [t["taskId"] for t in listed["tasks"]]
    assert events[-1]["status"] == "succeeded", events[-1]
    said = logs(events)
    assert "'missing'" in said and "not found" in said, said
    assert "'broken'" in said and "'env' must be an object" in said, said
    assert "DALS_MCP_CONFIG" in said and "not valid JSON" in said, said
    slow = tool_events(events, "mcp__counter__slow_record")[0]["detail"]
    assert slow["errorKind"] == "timeout" and "may still be running" in slow["error"]
    died = tool_events(events, "mcp__counter__die")[0]["detail"]
    assert died["errorKind"] == "died" and "'counter'" in died["error"]
    assert tool_events(events, "mcp__counter__fail")[0]["detail"]["error"].endswith("the tool says no")
    assert "MCP server counter: timeout" in said and "MCP server counter: died" in said
    assert "after-die" in lines(count)  # started again after it died


async def test_a_server_that_cannot_restart_keeps_its_tools_and_each_call_names_it(mcp_runtime, tmp_path):
    """Killed between two steps with its command gone: the calls of this turn and of a follow-up
    are tool errors naming the server (the tools stay offered: no "Unknown tool"); the task ends
    normally and the worker and `dals lsp` stay up."""
    count = tmp_path / "count.txt"
    wrapper = tmp_path / "srv.sh"
    wrapper.write_text(f"#!/bin/sh\necho $$ > {tmp_path / 'server.pid'}\nexec {sys.executable} {COUNTER}\n")
    wrapper.chmod(0o755)
    servers = {"counter": {"command": str(wrapper), "env": {"COUNTER_FILE": str(count)}}}
    worker = mcp_runtime.status()["worker"]["pid"]
    client = DalsClient(mcp_runtime.env, tmp_path)
    await client.start(settings(servers))
    try:
        task_id, events = await run_task(
            client,
            plan(
                ("mcp__counter__record", {"note": "first"}),
                ("run_command", {"command": "rm srv.sh && kill $(cat server.pid)"}),
                ("mcp__counter__record", {"note": "second"}),
                ("mcp__counter__record", {"note": "third"}),
            ),
        )
        last = events[-1]["seq"]
        got = await client.command(
            "dals.followUp",
            {"taskId": task_id, "prompt": plan(("mcp__counter__record", {"note": "fourth"}), title="Once more")},
        )
        assert got["turn"] == 2
        events = await client.wait_event(
            task_id,
            lambda evs: any(e["kind"] == "status" and e["status"] == "succeeded" and e["seq"] > last for e in evs),
            120,
        )
        listed = await client.command("dals.listTasks", {})
    finally:
        await client.stop()
    assert task_id in [t["taskId"] for t in listed["tasks"]]
    assert mcp_runtime.status()["worker"]["pid"] == worker
    assert lines(count) == ["first"]
    first, *failed = tool_events(events, "mcp__counter__record")
    assert "recorded 'first'" in first["detail"]["result"]
    assert len(failed) == 3 and all("'counter'" in e["detail"]["error"] for e in failed), failed
    assert failed[0]["detail"]["errorKind"] in ("died", "start")  # the call that found it dead
    for e in failed[1:]:  # its command is gone: it cannot start again
        assert e["detail"]["errorKind"] == "start" and "not found" in e["detail"]["error"], e
    assert failed[2]["seq"] > last  # the follow-up's call: offered from the first turn's list
    said = logs(e for e in events if e["seq"] > last)
    assert "MCP server counter unavailable: its tools from earlier in the task stay offered" in said, said
    assert "MCP server counter: start" in said
    assert events[-1]["status"] == "succeeded", events[-1]


async def test_workspace_mcp_json_only_when_the_user_allows_it(mcp_runtime, tmp_path):
    count = tmp_path / "ws-count.txt"
    (tmp_path / ".mcp.json").write_text(json.dumps({"mcpServers": {"ws": counter(count)}}))
    (tmp_path / ".dals.toml").write_text("[mcp]\nworkspaceServers = true\nallow = ['*']\n")  # refused
    prompt = plan(("mcp__ws__record", {"note": "from the workspace"}))
    client = DalsClient(mcp_runtime.env, tmp_path)
    await client.start({"dals": {"commands": {"allow": ["*"]}}})
    try:
        _, events = await run_task(client, prompt)
    finally:
        await client.stop()
    assert events[-1]["status"] == "succeeded" and not count.exists()
    assert ".mcp.json was not read" in logs(events)

    client = DalsClient(mcp_runtime.env, tmp_path)
    await client.start({"dals": {"mcp": {"workspaceServers": True, "allow": ["mcp__ws__*"]}}})
    try:
        _, events = await run_task(client, prompt)
    finally:
        await client.stop()
    assert events[-1]["status"] == "succeeded", events[-1]
    assert lines(count) == ["from the workspace"]


async def test_streamable_http_server_with_a_token_from_the_worker_env(mcp_runtime, tmp_path):
    count = tmp_path / "http-count.txt"
    server = await asyncio.to_thread(HttpCounter, count)
    try:
        servers = {
            "remote": {"type": "http", "url": server.url, "headers": {"Authorization": "Bearer ${MCP_HTTP_TOKEN}"}}
        }
        client = DalsClient(mcp_runtime.env, tmp_path)
        await client.start(settings(servers))
        try:
            _, events = await run_task(
                client, plan(("mcp__remote__headers_report", {}), ("mcp__remote__record", {"note": "over http"}))
            )
        finally:
            await client.stop()
    finally:
        server.close()
    assert events[-1]["status"] == "succeeded", events[-1]
    want = hashlib.sha256(f"Bearer {HTTP_TOKEN}".encode()).hexdigest()
    assert want in tool_events(events, "mcp__remote__headers_report")[0]["detail"]["result"]
    assert lines(count) == ["over http"]
    assert HTTP_TOKEN not in json.dumps(events)
