"""DALS's MCP toolset with a fake server pool: the tool list is one step per run, each call one
step whose value the model sees (errors as failed tool results, not retries), approvals outside
`mcp.allow`, events, and answers (images included) that survive the journal's JSON."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic_ai.messages import BinaryContent, ToolReturnPart

from dals.agent.coder import build_agent
from dals.agent.deps import InMemoryRunner, TaskDeps
from dals.agent.mcp_servers import CallOutcome, McpServerError
from dals.agent.mcp_tools import LIST_STEP, MAX_ANSWER_CHARS, McpTools, capped, from_plain, to_plain
from dals.agent.offline_model import offline_model

TOOL = {
    "name": "echo",
    "description": "Echo",
    "parameters": {"type": "object", "properties": {"message": {"type": "string"}}},
}


class FakePool:
    def __init__(self):
        self.calls: list[tuple[str, str, dict]] = []

    async def tools(self, name, cfg, timeout_s, ctx):
        if cfg.get("broken"):
            raise McpServerError(f"MCP server {name!r} did not start: boom")
        return [TOOL, dict(TOOL, name="fail")]

    async def call(self, name, cfg, timeout_s, tool, args):
        self.calls.append((name, tool, args))
        if tool == "fail":
            return CallOutcome(False, error="the tool says no", kind="tool")
        return CallOutcome(True, value=f"Echo: {args['message']}")


class Journal(InMemoryRunner):
    """Records every step by name and the JSON it would journal."""

    def __init__(self, approve: bool = True):
        super().__init__(approve=approve)
        self.steps: list[tuple[str, str]] = []

    async def step(self, name, fn):
        value = await fn()
        self.steps.append((name, json.dumps(value)))  # what JsonSerde would write: plain data only
        return json.loads(json.dumps(value))


async def run(prompt: str, runner: Journal, allow: list[str], servers=None):
    pool = FakePool()
    tools = McpTools(
        servers or {"ev": {}, "down": {"broken": True}}, {"gone": "not on this worker"}, allow, 5, pool=pool
    )
    result = await build_agent(offline_model(), [tools]).run(prompt, deps=TaskDeps(Path("."), runner))
    return result, pool


def returns(result) -> list[str]:
    return [str(p.content) for m in result.all_messages() for p in m.parts if isinstance(p, ToolReturnPart)]


async def test_list_once_calls_journaled_errors_seen_by_the_model():
    runner = Journal()
    prompt = "\n".join(
        ["go", '/mcp__ev__echo {"message": "a"}', '/mcp__ev__fail {"message": "b"}', '/mcp__ev__echo {"message": "c"}']
    )
    result, pool = await run(prompt, runner, ["mcp__ev__*"])
    assert [name for name, _ in runner.steps] == [LIST_STEP, "mcp__ev__echo", "mcp__ev__fail", "mcp__ev__echo"]
    assert [c[1] for c in pool.calls] == ["echo", "fail", "echo"]
    assert returns(result) == ["Echo: a", "the tool says no", "Echo: c"]
    kinds = [(e["kind"], e["title"]) for e in runner.events]
    assert ("log", "MCP server down unavailable: its tools are left out") in kinds
    assert ("log", "MCP server gone unavailable: its tools are left out") in kinds
    assert ("tool", "mcp__ev__fail failed") in kinds and ("tool", "mcp__ev__echo") in kinds
    # the instructions tell the model which servers are missing
    first = result.all_messages()[0]
    assert "down" in (first.instructions or "") and "gone" in (first.instructions or "")


async def test_calls_outside_allow_ask_first_and_a_rejection_calls_nothing():
    runner = Journal(approve=False)
    result, pool = await run('go\n/mcp__ev__echo {"message": "x"}', runner, ["mcp__other__*"])
    assert pool.calls == [] and returns(result)[0].startswith("rejected by the user")
    ask = [e for e in runner.events if e["kind"] == "approval"][0]["detail"]
    assert ask["action"] == "mcp" and ask["tool"] == "mcp__ev__echo" and ask["arguments"] == {"message": "x"}
    runner = Journal(approve=True)
    _, pool = await run('go\n/mcp__ev__echo {"message": "x"}', runner, [])
    assert pool.calls == [("ev", "echo", {"message": "x"})]


def test_answers_survive_the_journal_json():
    value = ["text", BinaryContent(data=b"\x89PNG", media_type="image/png"), {"a": 1}]
    back = from_plain(json.loads(json.dumps(to_plain(value))))
    assert back[0] == "text" and back[2] == {"a": 1}
    assert isinstance(back[1], BinaryContent) and back[1].data == b"\x89PNG" and back[1].media_type == "image/png"


def test_an_answer_too_large_for_the_journal_is_cut_and_says_so():
    assert capped("x" * 10) == "x" * 10
    cut = capped("x" * (MAX_ANSWER_CHARS + 5))
    assert cut.startswith("x" * 100) and cut.endswith("ask for less]") and len(cut) < MAX_ANSWER_CHARS + 200
    assert capped(["y" * MAX_ANSWER_CHARS]).startswith("[the server's answer was")


async def test_a_server_down_at_a_later_turn_keeps_its_tools_and_each_call_is_an_error_naming_it():
    first, kept = Journal(), {}
    pool = FakePool()
    tools = McpTools({"ev": {}}, {}, ["*"], 5, pool=pool, remember=kept.update)
    await build_agent(offline_model(), [tools]).run(
        'go\n/mcp__ev__echo {"message": "a"}', deps=TaskDeps(Path("."), first)
    )
    assert set(kept) == {"ev"} and [t["name"] for t in kept["ev"]] == ["echo", "fail"]

    class DownPool(FakePool):
        async def tools(self, name, cfg, timeout_s, ctx):
            raise McpServerError(f"MCP server {name!r} did not start: command 'x' not found")

        async def call(self, name, cfg, timeout_s, tool, args):
            self.calls.append((name, tool, args))
            return CallOutcome(False, error=f"MCP server {name!r} did not start: command 'x' not found", kind="start")

    later, down = Journal(), DownPool()
    tools = McpTools({"ev": {}}, {}, ["*"], 5, pool=down, known=kept, remember=kept.update)
    result = await build_agent(offline_model(), [tools]).run(
        'go\n/mcp__ev__echo {"message": "b"}', deps=TaskDeps(Path("."), later)
    )
    assert down.calls == [("ev", "echo", {"message": "b"})]  # offered, and tried again at the call
    assert "did not start" in returns(result)[0] and "'ev'" in returns(result)[0]
    kinds = [(e["kind"], e["title"]) for e in later.events]
    assert ("tool", "mcp__ev__echo failed") in kinds and ("log", "MCP server ev: start") in kinds
    assert any(k == "log" and "stay offered" in t for k, t in kinds)
    assert "down for now" in (result.all_messages()[0].instructions or "")
