"""Anthropic through pydantic-ai's real `AnthropicModel` and the anthropic SDK, over real HTTP to a
Messages API double on 127.0.0.1: the worker reaches it through `ANTHROPIC_BASE_URL` (the SDK reads
it when no base URL is passed, which is what `anthropic:NAME` does) with `ANTHROPIC_API_KEY`.

A task runs its tools with their results fed back, its usage comes from the provider's answers,
the answers are streamed (DALS streams every request of a task followed on this machine, for its
live text, and pydantic-ai streams behind the scenes for `claude-sonnet-4-5` anyway), a model name
pydantic-ai does not know works too, and a refused key fails the task naming the variable, never its
value."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from tests.support.anthropic_double import AnthropicDouble, conversation_key, tool_results
from tests.support.lsp_client import DalsClient
from tests.support.runtime import FORCE_REPLAY, Runtime

KEY_VALUE = "sk-ant-test-anthropic-double-0123456789"
MODEL = "anthropic:claude-sonnet-4-5"

PLAN = "\n".join(
    [
        "Anthropic edits",
        '/write_file {"path": "notes.txt", "content": "alpha\\n"}',
        '/read_file {"path": "notes.txt"}',
        '/edit_file {"path": "notes.txt", "old": "alpha", "new": "beta"}',
        '/run_command {"command": "echo ran >> ran.log"}',
    ]
)


@pytest.fixture(scope="module")
def anthropic():
    with AnthropicDouble(api_key=KEY_VALUE) as double:
        state = Path(tempfile.mkdtemp(prefix="dals-anthropic-"))
        rt = Runtime(
            state,
            {
                "ANTHROPIC_BASE_URL": double.base_url,
                "ANTHROPIC_API_KEY": KEY_VALUE,
                "DALS_MODEL": MODEL,
                "DALS_TASK_MAX_ATTEMPTS": "3",
            },
        )
        rt.up()
        yield rt, double
        rt.down()
        shutil.rmtree(state, ignore_errors=True)


async def run_task(rt: Runtime, workspace: Path, args: dict, timeout: float = 90) -> dict:
    client = DalsClient(rt.env, workspace)
    await client.start()
    try:
        task_id = (await client.command("dals.startTask", args))["taskId"]
        await client.wait_finished(task_id, timeout)
        return await client.command("dals.showTask", {"taskId": task_id})
    finally:
        await client.stop()


def seen(double: AnthropicDouble, prompt: str) -> list[dict]:
    key = conversation_key(prompt)
    return [r for r in double.requests if r["key"] == key]


async def test_a_task_runs_on_anthropic(anthropic, tmp_path):
    rt, double = anthropic
    done = await run_task(rt, tmp_path, {"prompt": PLAN})
    assert done["status"] == "succeeded", done.get("error")

    requests = seen(double, PLAN)
    assert [(r["step"], r["status"]) for r in requests] == [(0, 200), (1, 200), (2, 200), (3, 200), (4, 200)]
    assert all(r["stream"] for r in requests)  # claude-sonnet-4-5: streamed behind the scenes
    # every tool result went back to the model, under the id of the tool_use it answers
    last = tool_results(requests[-1]["messages"])
    assert sorted(last) == ["toolu_01", "toolu_02", "toolu_03", "toolu_04"]
    assert "alpha" in last["toolu_02"]  # read_file's answer is the file as written at step 0
    assert tool_results(requests[1]["messages"]).keys() == {"toolu_01"}

    assert (tmp_path / "notes.txt").read_text() == "beta\n"
    assert (tmp_path / "ran.log").read_text() == "ran\n"

    usage = done["usage"]
    assert usage["requests"] == 5 and (usage["replayedRequests"] > 0) == FORCE_REPLAY
    assert usage["inputTokens"] == sum(r["usage"][0] for r in requests)
    assert usage["outputTokens"] == sum(r["usage"][1] for r in requests)
    assert usage.get("costUsd") is not None and usage["costUsd"] > 0  # claude-sonnet-4-5 has a known price
    model_events = [e for e in done["events"] if e["kind"] == "model"]
    assert [(e["detail"]["inputTokens"], e["detail"]["outputTokens"]) for e in model_events] == [
        r["usage"] for r in requests
    ]


async def test_a_plain_json_answer_works_too(anthropic, tmp_path):
    rt, double = anthropic
    prompt = 'Plain answers\n/run_command {"command": "echo plain >> plain.log"}'
    done = await run_task(rt, tmp_path, {"prompt": prompt, "model": "anthropic:claude-double"})
    assert done["status"] == "succeeded", done.get("error")
    requests = seen(double, prompt)
    assert [(r["step"], r["status"], r["stream"]) for r in requests] == [(0, 200, True), (1, 200, True)]
    assert (tmp_path / "plain.log").read_text() == "plain\n"
    assert done["usage"]["inputTokens"] == sum(r["usage"][0] for r in requests)


async def test_a_refused_key_fails_the_task_naming_the_variable(anthropic, tmp_path):
    rt, double = anthropic
    prompt = PLAN.replace("Anthropic edits", "Refused key")
    double.api_key = "a-key-the-worker-does-not-have"
    try:
        done = await run_task(rt, tmp_path, {"prompt": prompt}, timeout=60)
    finally:
        double.api_key = KEY_VALUE
    assert done["status"] == "failed"
    error = done["error"]
    assert f"{MODEL}: 401 Unauthorized" in error and "ANTHROPIC_API_KEY" in error, error
    assert KEY_VALUE not in error and KEY_VALUE not in str(done["events"])
    assert [(r["step"], r["status"]) for r in seen(double, prompt)] == [(0, 401)]  # terminal: not retried
    assert not (tmp_path / "notes.txt").exists()
