"""Provider failures through pydantic-ai's real OpenAI code over real HTTP to a scripted double:
rate limits are retried inside the step, a refused key fails the task at once with a message that
names the variable (never its value), and a slow answer is one request, not re-sent."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from tests.support.lsp_client import DalsClient
from tests.support.openai_double import OpenAIDouble, conversation_key
from tests.support.runtime import Runtime

KEY_VALUE = "sk-test-provider-failures-0123456789"


def plan(title: str, n: int = 2) -> str:
    return "\n".join([title] + [f'/run_command {{"command": "echo {i} >> {title}.log"}}' for i in range(n)])


@pytest.fixture(scope="module")
def provider():
    with OpenAIDouble() as double:
        state = Path(tempfile.mkdtemp(prefix="dals-provider-"))
        rt = Runtime(
            state,
            {
                "OPENAI_BASE_URL": double.base_url,
                "OPENAI_API_KEY": KEY_VALUE,
                "DALS_MODEL": "openai-chat:double",
                "DALS_TASK_MAX_ATTEMPTS": "4",
            },
        )
        rt.up()
        yield rt, double
        rt.down()
        shutil.rmtree(state, ignore_errors=True)


async def run_task(rt, workspace: Path, prompt: str, timeout: float) -> dict:
    client = DalsClient(rt.env, workspace)
    await client.start()
    try:
        task_id = (await client.command("dals.startTask", {"prompt": prompt}))["taskId"]

        async def finished():
            while True:
                shown = await client.command("dals.showTask", {"taskId": task_id})
                if shown["status"] in ("succeeded", "failed", "cancelled"):
                    return shown
                assert shown["status"] != "paused", shown.get("lastFailure")
                await asyncio.sleep(0.1)

        return await asyncio.wait_for(finished(), timeout)
    finally:
        await client.stop()


def answered(double: OpenAIDouble, prompt: str) -> list[tuple[int, int]]:
    key = conversation_key(prompt)
    return [(r["step"], r["status"]) for r in double.requests if r["key"] == key]


async def test_rate_limited_twice_then_success(provider, tmp_path):
    rt, double = provider
    prompt = plan("ratelimited")
    double.fail_next = [429, 429]
    done = await run_task(rt, tmp_path, prompt, 90)
    assert done["status"] == "succeeded", done.get("error")
    seen = answered(double, prompt)
    assert [s for s in seen if s[1] == 429] == [(0, 429), (0, 429)]
    ok_steps = [step for step, status in seen if status == 200]
    assert sorted(ok_steps) == [0, 1, 2]  # no completed step asked again
    assert done["usage"]["requests"] == 3
    assert (tmp_path / "ratelimited.log").read_text().splitlines() == ["0", "1"]
    # each 429 is a `retrying` event with the provider's reason, then the answer ends `retrying`
    statuses = [(e["kind"], e["status"], e["title"]) for e in done["events"]]
    retrying = [t for k, s, t in statuses if s == "retrying"]
    assert len(retrying) == 2 and all("429 Too Many Requests" in t for t in retrying), statuses
    after = statuses[[s for _, s, _ in statuses].index("retrying") + 2]
    assert after[:2] == ("model", "running"), statuses
    assert [e["seq"] for e in done["events"]] == list(range(1, len(done["events"]) + 1))


async def test_unauthorized_fails_the_task_naming_the_key(provider, tmp_path):
    rt, double = provider
    prompt = plan("unauthorized")
    double.fail_next = [401]
    done = await run_task(rt, tmp_path, prompt, 60)
    assert done["status"] == "failed"
    error = done["error"]
    assert "openai-chat:double: 401 Unauthorized" in error and "OPENAI_API_KEY" in error, error
    assert KEY_VALUE not in error and KEY_VALUE not in str(done["events"])
    assert answered(double, prompt) == [(0, 401)]  # terminal: neither the SDK nor Restate retried it
    assert not (tmp_path / "unauthorized.log").exists()


async def test_slow_answer_is_one_request(provider, tmp_path):
    rt, double = provider
    prompt = plan("slow")
    double.delays = {1: 20.0}
    try:
        started = time.monotonic()
        done = await run_task(rt, tmp_path, prompt, 60)
        took = time.monotonic() - started
    finally:
        double.delays = {}
    assert done["status"] == "succeeded", done.get("error")
    assert took >= 20
    assert answered(double, prompt) == [(0, 200), (1, 200), (2, 200)]  # the slow step was not re-sent
    assert (tmp_path / "slow.log").read_text().splitlines() == ["0", "1"]
