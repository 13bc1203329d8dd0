"""The offline model reads only what is new at each request (plan parsed once, history length
kept per message), and answers exactly as re-reading everything each time did: journaled tasks
replay its responses, so they must not change. `reference` below is that earlier way, verbatim,
but for where a follow-up's turn starts (`turn_start`: before follow-ups, the first prompt counted)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic_ai import Agent
from pydantic_ai.messages import (
    ModelMessage,
    ModelMessagesTypeAdapter,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.usage import RequestUsage, UsageLimits

from dals.agent.offline_model import (
    PlanError,
    _builtin_part,
    _history_text,
    offline_model,
    turn_start,
    user_prompt,
)
from dals.agent.plan import parse_plan, plan_summary
from tests.unit.agent.conftest import ToolRecorder

FIXED = datetime(2026, 1, 1, tzinfo=UTC)


def reference(messages: Sequence[ModelMessage]) -> ModelResponse:
    """The offline model as it was: the whole plan parsed and the whole history read per request."""
    turn = messages[turn_start(messages) :]
    prompt = user_prompt(turn)
    step = sum(isinstance(message, ModelResponse) for message in turn)
    try:
        plan = parse_plan(prompt)
    except ValueError as err:
        raise PlanError(str(err)) from err
    if plan:
        if step < len(plan):
            part = ToolCallPart(plan[step].tool, dict(plan[step].args), tool_call_id=f"call-{step + 1}")
        else:
            part = TextPart(plan_summary(plan))
    else:
        part = _builtin_part(prompt, turn, step)
    out = part.content if isinstance(part, TextPart) else part.tool_name + part.args_as_json_str()
    usage = RequestUsage(input_tokens=max(1, len(_history_text(messages)) // 4), output_tokens=max(1, len(out) // 4))
    return ModelResponse(parts=[part], usage=usage)


def as_bytes(response: ModelResponse) -> bytes:
    """The response as it would be journaled, its clock reading pinned."""
    return ModelMessagesTypeAdapter.dump_json([dataclasses.replace(response, timestamp=FIXED)])


class Compared:
    """A model that answers with the offline model and checks every answer against `reference`."""

    def __init__(self) -> None:
        self.fast = offline_model().function
        self.checked = 0

    def model(self) -> FunctionModel:
        async def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
            want = reference(messages)
            got = await self.fast(messages, info)
            assert as_bytes(got) == as_bytes(want), f"request {self.checked}"
            self.checked += 1
            return got

        return FunctionModel(respond, model_name="offline")


def plan(*lines: str) -> str:
    return "\n".join(lines)


PROMPTS = [
    plan(*['/read_file {"path": "a.txt"}'] * 40),
    plan(
        "Check things, with ünïcödé ✓ text.",
        '/list_files {"glob": "*.txt"}',
        "/list_files",
        '/search {"pattern": "x", "glob": null}',
        '/read_file {"path": "missing.txt"}',
        '/run_command {"command": "ls", "timeout_s": 5}',
        '/edit_file {"path": "a.txt", "old": "x", "new": "y"}',
        '/write_file {"path": "b.txt", "content": "line\\n€\\n"}',
        '/read_file {"path": "b.txt"}',
    ),
    # arguments the tools refuse (a retry prompt goes back to the model), nested values
    plan(
        '/read_file {"path": "a.txt", "extra": {"deep": [1, 2.5, "three", null, true]}}',
        "/read_file {}",
        '/read_file {"path": "a.txt"}',
    ),
    "File: a.txt (lines 1-2)\nLanguage: text\nAdd a header comment",
    "File: gone.txt\nFix it",
    "What is in here?",
]


@pytest.mark.parametrize("prompt", PROMPTS, ids=range(len(PROMPTS)))
async def test_an_agent_run_gets_the_same_answers_as_before(tmp_path: Path, prompt: str) -> None:
    (tmp_path / "a.txt").write_text("x\n")
    recorder = ToolRecorder(tmp_path)
    compared = Compared()
    agent = Agent(compared.model(), tools=recorder.tools(), retries=10)
    await agent.run(prompt, usage_limits=UsageLimits(request_limit=200))
    # the same model again (its caches warm from the last run), and a second prompt in between
    await agent.run("What is in here?")
    await agent.run(prompt, usage_limits=UsageLimits(request_limit=200))
    assert compared.checked >= 6


def _history(n: int) -> list[ModelMessage]:
    """A plan task's history after `n` steps, built from scratch (new objects every time)."""
    lines = [f'/read_file {{"path": "f{i}.txt", "nested": {{"i": [{i}]}}}}' for i in range(n + 2)]
    messages: list[ModelMessage] = [ModelRequest(parts=[UserPromptPart("\n".join(lines))])]
    for i in range(n):
        messages.append(
            ModelResponse(parts=[ToolCallPart("read_file", {"path": f"f{i}.txt"}, tool_call_id=f"call-{i + 1}")])
        )
        messages.append(
            ModelRequest(parts=[ToolReturnPart("read_file", "x" * (i * 7 % 13), tool_call_id=f"call-{i + 1}")])
        )
    return messages


async def _both(model_fn, messages: list[ModelMessage]) -> None:
    got = await model_fn(messages, None)
    assert as_bytes(got) == as_bytes(reference(messages))


async def test_fresh_objects_grown_and_replaced_parts_are_read_again() -> None:
    fast = offline_model().function
    for n in range(6):  # new message objects on every request: nothing is reused wrongly
        await _both(fast, _history(n))
    messages = _history(3)
    await _both(fast, messages)
    messages[-1].parts.append(ToolReturnPart("read_file", "more text", tool_call_id="call-3"))  # grew in place
    await _both(fast, messages)
    messages[-1].parts = [ToolReturnPart("read_file", "other", tool_call_id="call-3")]  # replaced
    await _both(fast, messages)
    await _both(fast, messages[:3])  # shorter (a history cut back)
    await _both(
        fast,
        [*messages, ModelResponse(parts=[TextPart("thinking…")]), ModelRequest(parts=[UserPromptPart(["a", "b"])])],
    )


async def test_a_returned_call_does_not_share_arguments_with_the_cached_plan() -> None:
    fast = offline_model().function
    messages = _history(0)
    first = await fast(messages, None)
    first.parts[0].args["nested"]["i"].append("changed by a tool")
    again = await fast(messages, None)
    assert again.parts[0].args == {"path": "f0.txt", "nested": {"i": [0]}}
    assert as_bytes(again) == as_bytes(reference(messages))


async def test_a_malformed_plan_fails_every_request_alike() -> None:
    fast = offline_model().function
    messages = [ModelRequest(parts=[UserPromptPart('do it\n/write_file {"path": oops}')])]
    for _ in range(2):
        with pytest.raises(PlanError, match="line 2") as got:
            await fast(messages, None)
        with pytest.raises(PlanError) as want:
            reference(messages)
        assert str(got.value) == str(want.value)
