"""Every command's arguments, fuzzed: `parse` gives the model instance or InvalidParams, nothing else."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings, strategies as st
from pygls.exceptions import JsonRpcInvalidParams

from dals.client import contract as c
from dals.lsp import protocol as p

MODELS = {
    p.START_TASK: c.StartTaskArgs,
    p.LIST_TASKS: c.ListTasksArgs,
    p.SHOW_TASK: c.TaskIdArgs,
    p.CANCEL_TASK: c.TaskIdArgs,
    p.RESUME_TASK: c.TaskIdArgs,
    p.ANSWER: c.AnswerArgs,
}
FIELDS = [
    "prompt",
    "uri",
    "range",
    "mode",
    "model",
    "status",
    "taskId",
    "requestId",
    "decision",
    "comment",
    "start",
    "end",
    "line",
    "character",
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(["auto", "review", "approve", "reject", "running", "paused", "", " ", "a" * 100_001]),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=12,
)
# objects whose keys are mostly the real field names, so validation goes deep
objects = st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6)
arguments = st.lists(objects | json_values, max_size=3).map(tuple)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(command=st.sampled_from(sorted(MODELS)), args=arguments)
def test_parse_gives_a_model_or_invalid_params(command, args):
    model = MODELS[command]
    try:
        parsed = p.parse(model, command, args)
    except JsonRpcInvalidParams as e:
        assert command in str(e)
        assert e.code == -32602
        json.dumps({"code": e.code, "message": e.message, "data": e.data})  # it goes over the wire as is
        return
    assert isinstance(parsed, model)
    assert len(args) == 1 and isinstance(args[0], dict)
    parsed.model_dump_json()


@settings(max_examples=100, deadline=None)
@given(
    args=st.fixed_dictionaries(
        {"prompt": st.text(min_size=1, max_size=50)},
        optional={
            "mode": st.sampled_from(["auto", "review"]),
            "range": st.fixed_dictionaries(
                {
                    "start": st.fixed_dictionaries({"line": st.integers(0, 10**6), "character": st.integers(0, 999)}),
                    "end": st.fixed_dictionaries({"line": st.integers(0, 10**6), "character": st.integers(0, 999)}),
                }
            ),
        },
    )
)
def test_valid_start_task_arguments_are_accepted(args):
    try:
        parsed = p.parse(c.StartTaskArgs, p.START_TASK, (args,))
    except JsonRpcInvalidParams as e:
        assert "field 'prompt'" in str(e) and not args["prompt"].strip()  # whitespace only
        return
    assert parsed.prompt and parsed.prompt in args["prompt"]
    assert parsed.mode == args.get("mode")
