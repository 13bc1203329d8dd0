"""The OpenAI double: a real pydantic-ai Agent over real HTTP, plus its scripting hooks."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest
from pydantic_ai import Agent
from pydantic_ai.exceptions import ModelHTTPError
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

from tests.support.openai_double import OpenAIDouble, conversation_key

from .conftest import ToolRecorder

PLAN = "\n".join(
    [
        "Look around.",
        '/list_files {"glob": "*.txt"}',
        '/search {"pattern": "TODO"}',
        '/run_command {"command": "true"}',
    ]
)
SUMMARY = "Plan done: 3 steps (list_files ×1, search ×1, run_command ×1)."


def make_agent(double: OpenAIDouble, recorder: ToolRecorder, max_retries: int | None = None) -> Agent:
    provider = OpenAIProvider(base_url=double.base_url, api_key="test")
    settings = {} if max_retries is None else {"max_retries": max_retries}
    return Agent(OpenAIChatModel("double", provider=provider), tools=recorder.tools(), model_settings=settings)


def completion(double: OpenAIDouble, prompt: str, timeout: float = 5, **extra: object) -> httpx.Response:
    body = {"model": "double", "messages": [{"role": "user", "content": prompt}], **extra}
    return httpx.post(f"{double.base_url}/chat/completions", json=body, timeout=timeout)


async def test_a_plan_runs_over_real_http(double: OpenAIDouble, recorder: ToolRecorder) -> None:
    result = await make_agent(double, recorder).run(PLAN)
    assert recorder.names == ["list_files", "search", "run_command"]
    assert recorder.calls[2] == ("run_command", {"command": "true", "cwd": ".", "timeout_s": 120})
    assert result.output == SUMMARY
    assert double.count() == 4
    assert [r["step"] for r in double.requests] == [0, 1, 2, 3]
    assert double.count(key=conversation_key(PLAN)) == 4
    assert double.repeated() == {}
    assert result.usage.input_tokens > 0 and result.usage.output_tokens > 0


async def test_a_scripted_429_is_retried_by_the_openai_client(double: OpenAIDouble, recorder: ToolRecorder) -> None:
    double.fail_next = [429]
    result = await make_agent(double, recorder).run(PLAN)
    assert result.output == SUMMARY
    assert double.count() == 5
    assert double.count(status=429) == 1
    assert double.repeated() == {(conversation_key(PLAN), 0): 2}
    assert double.repeated(status=200) == {}


async def test_a_429_surfaces_when_the_client_does_not_retry(double: OpenAIDouble, recorder: ToolRecorder) -> None:
    double.fail_next = [429]
    with pytest.raises(ModelHTTPError) as caught:
        await make_agent(double, recorder, max_retries=0).run(PLAN)
    assert caught.value.status_code == 429
    assert double.count() == 1
    assert recorder.calls == []


def test_fail_until_an_event_is_set(double: OpenAIDouble) -> None:
    double.fail_until, double.fail_status = threading.Event(), 503
    failed = completion(double, PLAN)
    assert failed.status_code == 503
    assert "scripted failure 503" in failed.json()["error"]["message"]
    double.fail_until.set()
    ok = completion(double, PLAN).json()
    assert ok["choices"][0]["finish_reason"] == "tool_calls"
    call = ok["choices"][0]["message"]["tool_calls"][0]
    function = {"name": "list_files", "arguments": '{"glob": "*.txt"}'}
    assert call == {"id": "call-1", "type": "function", "function": function}
    assert ok["usage"]["total_tokens"] == ok["usage"]["prompt_tokens"] + ok["usage"]["completion_tokens"]


def test_list_content_and_final_text() -> None:
    with OpenAIDouble() as double:
        messages = [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "/list_files"}]},
            {"role": "assistant", "content": None, "tool_calls": []},
            {"role": "tool", "tool_call_id": "call-1", "content": "a.txt"},
        ]
        body = {"model": "double", "messages": messages}
        answer = httpx.post(f"{double.base_url}/chat/completions", json=body).json()
    assert answer["choices"][0]["finish_reason"] == "stop"
    assert answer["choices"][0]["message"]["content"] == "Plan done: 1 step (list_files ×1)."
    assert double.requests[0]["step"] == 1


def test_a_streamed_request_gets_the_answer_in_chunks(double: OpenAIDouble) -> None:
    response = completion(double, PLAN, stream=True)
    assert response.status_code == 200 and response.headers["content-type"] == "text/event-stream"
    datas = [line[len("data: ") :] for line in response.text.splitlines() if line.startswith("data: ")]
    assert datas[-1] == "[DONE]"
    chunks = [json.loads(d) for d in datas[:-1]]
    call = chunks[1]["choices"][0]["delta"]["tool_calls"][0]
    assert call["id"] == "call-1" and call["function"]["name"] == "list_files"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] >= 1
    assert double.requests[0]["stream"] is True


async def test_delays_hold_the_answer_and_wait_for_step_sees_the_request(
    double: OpenAIDouble, recorder: ToolRecorder
) -> None:
    double.delays[1] = 0.4
    seen = threading.Event()

    def watch() -> None:
        if double.wait_for_step(1, timeout=10):
            seen.set()

    watcher = threading.Thread(target=watch)
    watcher.start()
    started = time.monotonic()
    result = await make_agent(double, recorder).run(PLAN)
    watcher.join()
    assert time.monotonic() - started >= 0.4
    assert seen.is_set()
    assert result.output == SUMMARY
    assert double.wait_for_step(9, timeout=0.05) is False


def test_a_client_dropping_mid_delay_does_not_break_the_double(double: OpenAIDouble) -> None:
    double.delays[0] = 0.5
    with pytest.raises(httpx.ReadTimeout):
        completion(double, PLAN, timeout=0.1)
    # The abandoned answer goes to a closed socket; the double must shrug that off.
    assert double.wait_until(lambda requests: requests[0]["status"] == 200, timeout=5)
    del double.delays[0]
    assert completion(double, PLAN).status_code == 200
    assert double.repeated() == {(conversation_key(PLAN), 0): 2}


def test_stop_cuts_delays_short() -> None:
    double = OpenAIDouble().start()
    double.delays[0] = 30
    client = threading.Thread(target=lambda: _ignore_errors(lambda: completion(double, PLAN, timeout=30)))
    client.start()
    assert double.wait_for_step(0, timeout=5)
    started = time.monotonic()
    double.stop()
    client.join(timeout=5)
    assert time.monotonic() - started < 5
    assert not client.is_alive()


def _ignore_errors(call: object) -> None:
    try:
        call()  # type: ignore[operator]
    except httpx.HTTPError:
        pass


async def test_pydantic_ai_streams_a_plan_from_the_double(double: OpenAIDouble, recorder: ToolRecorder) -> None:
    pieces: list[str] = []
    async with make_agent(double, recorder).run_stream(PLAN) as run:
        async for text in run.stream_text(delta=True, debounce_by=None):
            pieces.append(text)
    assert "".join(pieces) == "Plan done: 3 steps (list_files ×1, search ×1, run_command ×1)."
    assert len(pieces) > 1 and all(r["stream"] for r in double.requests)
