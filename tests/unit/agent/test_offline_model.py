"""The offline model driven by a real pydantic-ai Agent with recording stub tools."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic_ai import Agent
from pydantic_ai.messages import ModelResponse, ToolCallPart

from dals.agent.offline_model import PlanError, offline_model

from .conftest import ToolRecorder

PLAN = "\n".join(
    [
        "Check the project.",
        '/read_file {"path": "a.txt"}',
        '/run_command {"command": "ls", "timeout_s": 5}',
        '/edit_file {"path": "a.txt", "old": "x", "new": "y"}',
    ]
)


def make_agent(recorder: ToolRecorder, request_log: Path | None = None) -> Agent:
    return Agent(offline_model(request_log), tools=recorder.tools())


async def test_a_plan_calls_the_tools_in_order_then_summarises(recorder: ToolRecorder) -> None:
    (recorder.root / "a.txt").write_text("x\n")
    result = await make_agent(recorder).run(PLAN)
    assert recorder.calls == [
        ("read_file", {"path": "a.txt"}),
        ("run_command", {"command": "ls", "cwd": ".", "timeout_s": 5}),
        ("edit_file", {"path": "a.txt", "old": "x", "new": "y"}),
    ]
    assert result.output == "Plan done: 3 steps (read_file ×1, run_command ×1, edit_file ×1)."
    calls = [p for m in result.all_messages() if isinstance(m, ModelResponse) for p in m.parts]
    assert [p.tool_call_id for p in calls if isinstance(p, ToolCallPart)] == ["call-1", "call-2", "call-3"]
    usage = result.usage
    assert usage.requests == 4
    assert usage.input_tokens > 0 and usage.output_tokens > 0


async def test_usage_is_deterministic(recorder: ToolRecorder) -> None:
    (recorder.root / "a.txt").write_text("x\n")
    first = await make_agent(recorder).run(PLAN)
    second = await make_agent(recorder).run(PLAN)
    assert first.usage.input_tokens == second.usage.input_tokens
    assert first.usage.output_tokens == second.usage.output_tokens


async def test_a_failed_step_does_not_change_the_plan(recorder: ToolRecorder) -> None:
    prompt = '/read_file {"path": "missing.txt"}\n/list_files {"glob": "*.txt"}'
    result = await make_agent(recorder).run(prompt)
    assert recorder.names == ["read_file", "list_files"]
    assert result.output == "Plan done: 2 steps (read_file ×1, list_files ×1)."


async def test_a_malformed_plan_is_a_plan_error(recorder: ToolRecorder) -> None:
    with pytest.raises(PlanError, match="line 2"):
        await make_agent(recorder).run('do it\n/write_file {"path": oops}')
    assert recorder.calls == []


@pytest.mark.parametrize(
    ("name", "before", "after"),
    [
        ("app.py", "print(1)\n", "# DALS: Add a header comment\nprint(1)\n"),
        ("run.sh", "#!/bin/sh\necho hi\n", "#!/bin/sh\n# DALS: Add a header comment\necho hi\n"),
        ("main.rs", "fn main() {}\n", "// DALS: Add a header comment\nfn main() {}\n"),
        ("q.sql", "select 1;\n", "-- DALS: Add a header comment\nselect 1;\n"),
        ("init.el", "(setq x 1)\n", ";; DALS: Add a header comment\n(setq x 1)\n"),
        ("notes.unknown", "hello", "# DALS: Add a header comment\nhello"),
    ],
)
async def test_builtin_behaviour_really_edits_the_file(
    recorder: ToolRecorder, name: str, before: str, after: str
) -> None:
    (recorder.root / "src").mkdir()
    target = recorder.root / "src" / name
    target.write_text(before)
    prompt = f"File: src/{name} (lines 1-2)\nLanguage: whatever\nAdd a header comment\nand more words"
    result = await make_agent(recorder).run(prompt)
    assert recorder.names == ["read_file", "write_file"]
    assert target.read_text() == after
    assert result.output == f"Added a DALS comment to src/{name}."


async def test_builtin_request_is_cut_to_80_characters(recorder: ToolRecorder) -> None:
    (recorder.root / "a.py").write_text("")
    await make_agent(recorder).run("File: a.py\n" + "z" * 200)
    assert (recorder.root / "a.py").read_text() == "# DALS: " + "z" * 80 + "\n"


async def test_builtin_behaviour_stops_when_the_file_cannot_be_read(recorder: ToolRecorder) -> None:
    result = await make_agent(recorder).run("File: gone.py\nFix it")
    assert recorder.names == ["read_file"]
    assert result.output == "Could not read gone.py; nothing was changed."


async def test_builtin_behaviour_without_a_file_lists_the_workspace(recorder: ToolRecorder) -> None:
    for name in ("a.py", "b.py", "c.txt"):
        (recorder.root / name).write_text("")
    result = await make_agent(recorder).run("What is in here?")
    assert recorder.calls == [("list_files", {"glob": "**/*"})]
    assert result.output == "The workspace has 3 files."


async def test_request_log_has_one_line_per_model_call(recorder: ToolRecorder, tmp_path: Path) -> None:
    (recorder.root / "a.txt").write_text("x\n")
    log = tmp_path / "state" / "requests.jsonl"
    agent = make_agent(recorder, log)
    await agent.run(PLAN)
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [line["step"] for line in lines] == [0, 1, 2, 3]
    assert len({line["prompt_sha"] for line in lines}) == 1
    assert len(lines[0]["prompt_sha"]) == 12

    await agent.run(PLAN)
    assert len(log.read_text().splitlines()) == 8


async def test_builtin_behaviour_treats_an_error_value_as_a_failed_read(recorder: ToolRecorder) -> None:
    async def read_file(path: str) -> str:
        recorder.calls.append(("read_file", {"path": path}))
        return f"error: {path} is outside the workspace"

    tools = [read_file if t.__name__ == "read_file" else t for t in recorder.tools()]
    result = await Agent(offline_model(), tools=tools).run("File: ../x.py\nFix it")
    assert recorder.names == ["read_file"]
    assert result.output == "Could not read ../x.py; nothing was changed."


async def test_builtin_behaviour_counts_no_files_as_zero(recorder: ToolRecorder) -> None:
    result = await make_agent(recorder).run("How big is this?")
    assert result.output == "The workspace has 0 files."


def test_the_model_is_named_offline() -> None:
    assert offline_model().model_name == "offline"
