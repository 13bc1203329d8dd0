"""Argument validation at the LSP edge: every bad argument names its field."""

from __future__ import annotations

import pytest
from pygls.exceptions import JsonRpcInvalidParams

from dals.client import contract as c
from dals.lsp import protocol as p


def test_valid_start_task_args():
    a = p.parse(
        c.StartTaskArgs,
        p.START_TASK,
        (
            {
                "prompt": " fix it ",
                "mode": "review",
                "range": {"start": {"line": 1, "character": 0}, "end": {"line": 3, "character": 2}},
            },
        ),
    )
    assert a.prompt == "fix it" and a.mode == "review" and a.range.end.line == 3


@pytest.mark.parametrize(
    "args, field",
    [
        (({},), "prompt"),
        (({"prompt": 3},), "prompt"),
        (({"prompt": "x" * 100_001},), "prompt"),
        (({"prompt": "x", "mode": "yolo"},), "mode"),
        (({"prompt": "x", "model": ""},), "model"),
        (({"prompt": "x", "range": {"start": {"line": 0}}},), "range.start.character"),
    ],
)
def test_bad_start_task_args_name_the_field(args, field):
    with pytest.raises(JsonRpcInvalidParams) as err:
        p.parse(c.StartTaskArgs, p.START_TASK, args)
    assert f"field '{field}'" in err.value.message
    assert err.value.data == {"field": field}


@pytest.mark.parametrize("args", [(), (1,), ([],), ({}, {})])
def test_not_one_object(args):
    with pytest.raises(JsonRpcInvalidParams) as err:
        p.parse(c.TaskIdArgs, p.SHOW_TASK, args)
    assert "takes one object argument" in err.value.message


@pytest.mark.parametrize("task_id", ["", "a/b", "../x", "x" * 81, "a b"])
def test_task_ids_are_plain_keys(task_id):
    with pytest.raises(JsonRpcInvalidParams):
        p.parse(c.TaskIdArgs, p.SHOW_TASK, ({"taskId": task_id},))


def test_list_statuses_are_the_contract_statuses():
    ok = p.parse(c.ListTasksArgs, p.LIST_TASKS, ({"status": ["running", "paused"]},))
    assert ok.status == ["running", "paused"]
    with pytest.raises(JsonRpcInvalidParams):
        p.parse(c.ListTasksArgs, p.LIST_TASKS, ({"status": ["done"]},))


def test_answer_args():
    a = p.parse(c.AnswerArgs, p.ANSWER, ({"taskId": "t1", "requestId": "r1", "decision": "reject", "comment": "no"},))
    assert a.decision == "reject"
    with pytest.raises(JsonRpcInvalidParams) as err:
        p.parse(
            c.AnswerArgs,
            p.ANSWER,
            ({"taskId": "t1", "requestId": "r1", "decision": "reject", "comment": "x" * 10_001},),
        )
    assert "comment" in err.value.message


def test_every_command_names_an_argument_model_of_the_contract():
    """lsp/commands.py registers each command with the name of its argument model (the contract
    is imported with the first command): every name is a model there, and every command has one."""
    import re
    from pathlib import Path

    from dals.lsp import commands

    source = Path(commands.__file__).read_text()
    registered = dict(re.findall(r'_command\(server, p\.(\w+), "(\w+)"', source))
    assert {getattr(p, name) for name in registered} == set(p.COMMANDS)
    for model in registered.values():
        assert issubclass(getattr(c, model), c.Args), model
