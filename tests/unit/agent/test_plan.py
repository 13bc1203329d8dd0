"""parse_plan, file_context and the plan summary: the prompt conventions of the offline model."""

from __future__ import annotations

import pytest

from dals.agent.plan import TOOL_NAMES, PlanStep, file_context, parse_plan, plan_summary, request_text


def test_plan_lines_become_steps_in_order_and_other_lines_are_ignored() -> None:
    prompt = "\n".join(
        [
            "Fix the tests.",
            "File: src/app.py",
            '  /read_file {"path": "src/app.py"}',
            "/unknown_tool {not json at all}",
            "/list_files",
            '/run_command {"command": "pytest -q", "timeout_s": 30}',
            'not a plan /read_file {"path": "x"}',
        ]
    )
    assert parse_plan(prompt) == [
        PlanStep("read_file", {"path": "src/app.py"}),
        PlanStep("list_files", {}),
        PlanStep("run_command", {"command": "pytest -q", "timeout_s": 30}),
    ]


def test_every_contract_tool_is_a_plan_tool() -> None:
    prompt = "\n".join(f"/{name} {{}}" for name in TOOL_NAMES)
    assert [step.tool for step in parse_plan(prompt)] == list(TOOL_NAMES)


def test_no_plan_lines_give_an_empty_plan() -> None:
    assert parse_plan("Add a docstring to this function.\nFile: a.py") == []
    assert parse_plan("") == []


def test_bad_json_names_the_line_and_the_error() -> None:
    prompt = 'intro\n/read_file {"path": "a.py"}\n/write_file {"path": "a.py", content: 1}'
    with pytest.raises(ValueError, match=r"line 3.*write_file.*Expecting property name"):
        parse_plan(prompt)


def test_arguments_must_be_an_object() -> None:
    with pytest.raises(ValueError, match=r"line 1.*JSON object.*list"):
        parse_plan('/search ["x"]')


@pytest.mark.parametrize(
    ("prompt", "path"),
    [
        ("Explain this\nFile: src/app.py", "src/app.py"),
        ("File: src/my app.py (lines 3-7)\nLanguage: python", "src/my app.py"),
        ("  File: a/b.rs (line 4)  ", "a/b.rs"),
        ("Explain this", None),
        ("Profile: x.py", None),
    ],
)
def test_file_context(prompt: str, path: str | None) -> None:
    assert file_context(prompt) == path


def test_request_text_skips_context_lines() -> None:
    assert request_text("File: a.py\nLanguage: python\n\nAdd logging\nmore") == "Add logging"


def test_plan_summary_counts_tools() -> None:
    plan = [PlanStep("read_file", {}), PlanStep("run_command", {}), PlanStep("read_file", {})]
    assert plan_summary(plan) == "Plan done: 3 steps (read_file ×2, run_command ×1)."
