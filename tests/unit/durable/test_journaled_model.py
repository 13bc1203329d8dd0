"""JournaledModel: each model request is one journaled step named and encoded as restate-sdk's
RestateModelWrapper does (old journals replay), and the agent keeps its one toolset."""

from __future__ import annotations

import pytest
from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart, UserPromptPart
from pydantic_ai.models import ModelRequestParameters
from pydantic_ai.models.test import TestModel
from restate import RunOptions, SdkInternalBaseException
from restate.ext.pydantic._model import MODEL_RESPONSE_SERDE

from dals.agent.coder import build_agent
from dals.durable.journaled_model import STEP_NAME, JournaledModel


class Journal:
    """Stands for ctx.run_typed: records the step and runs its action (or answers a replay)."""

    def __init__(self, replayed: ModelResponse | None = None, fail: BaseException | None = None):
        self.steps: list[tuple[str, RunOptions]] = []
        self.replayed, self.fail = replayed, fail

    async def run(self, name, action, options, *args, **kwargs):
        self.steps.append((name, options))
        if self.fail:
            raise self.fail
        if self.replayed is not None:
            return self.replayed
        return await action(*args, **kwargs)


def request_args():
    return [ModelRequest(parts=[UserPromptPart("hi")])], None, ModelRequestParameters()


async def test_a_request_is_one_step_as_restate_model_wrapper_journals_it():
    journal = Journal()
    model = JournaledModel(TestModel(custom_output_text="done"), journal.run, RunOptions(max_attempts=1))
    response = await model.request(*request_args())
    assert isinstance(response, ModelResponse) and response.parts[0].content == "done"
    [(name, options)] = journal.steps
    assert name == STEP_NAME == "Model call" and options.max_attempts == 1
    # the same encoding as restate-sdk's wrapper: its journals and ours read back alike
    assert options.serde.serialize(response) == MODEL_RESPONSE_SERDE.serialize(response)


async def test_a_replayed_step_never_reaches_the_model():
    journaled = ModelResponse(parts=[TextPart("from the journal")])

    class Unreachable(TestModel):
        async def request(self, *args, **kwargs):
            raise AssertionError("a replayed step must not call the model")

    model = JournaledModel(Unreachable(), Journal(replayed=journaled).run)
    assert (await model.request(*request_args())) is journaled


async def test_sdk_internal_exceptions_leave_as_plain_exceptions():
    class Suspended(SdkInternalBaseException):
        pass

    model = JournaledModel(TestModel(), Journal(fail=Suspended("suspended")).run)
    with pytest.raises(Exception, match="Internal error during model call") as got:
        await model.request(*request_args())
    assert isinstance(got.value.__cause__, Suspended)


def test_the_agent_keeps_one_toolset():
    """RestateAgent's override doubled them (an empty function toolset beside the real one)."""
    agent = build_agent(JournaledModel(TestModel(), Journal().run))
    assert len(agent.toolsets) == 1
